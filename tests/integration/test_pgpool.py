"""common/pg's worker pool against the real PostgreSQL: callbacks on the loop thread, the queue
bound, reconnection after the server kills its connections, draining on free."""
import subprocess


def test_pg_pool(bins, svc_env):
    p = subprocess.run([bins.pgpool_check], env=svc_env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "pgpool: 30 passed, 0 failed" in p.stdout
