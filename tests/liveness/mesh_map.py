#!/usr/bin/env python3
"""mesh_map — which face-mesh point corresponds to each of face-api's 68 landmarks.

    mesh_map.py <mesh.tsv> <lm68.tsv>

mesh.tsv is written by mesh_check (our mesh, image pixels), lm68.tsv by `peer.js landmarks`
(face-api's 68 points, dlib/iBUG order, on the same images). Faces are paired by the nearest
mesh centroid to the 68-point centroid (within a quarter of the inter-ocular distance). For
each of the 68 points, the mesh index with the smallest mean distance over all paired faces,
in units of the inter-ocular distance (outer eye corners 36-45), is printed with that residual.
The table in services/liveness/liveness_face.c was taken from this output; the residuals are
also the agreement of the two landmark models (docs/liveness.md, "Face mesh"). Python 3
standard library only.
"""
import math
import sys


def load(path, skip):
    faces = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            p = line.rstrip("\n").split("\t")
            v = [float(x) for x in p[skip:]]
            dim = 3 if skip == 3 else 2
            faces.setdefault(p[0], []).append([v[i:i + dim] for i in range(0, len(v), dim)])
    return faces


def centroid(pts):
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


def main():
    mesh = load(sys.argv[1], 3)
    lm = load(sys.argv[2], 2)
    pairs = []
    for name, faces in lm.items():
        for f68 in faces:
            iod = math.dist(f68[36], f68[45])
            c68 = centroid(f68[17:68])
            best = min(mesh.get(name, []), key=lambda m: math.dist(centroid(m), c68),
                       default=None)
            if best is not None and math.dist(centroid(best), c68) < 0.25 * iod:
                pairs.append((f68, best, iod))
    print("# %d faces paired" % len(pairs))
    print("# point\tmesh index\tmean distance / inter-ocular\tsecond best")
    total = 0.0
    for k in range(68):
        score = []
        for j in range(468):
            d = sum(math.dist(f68[k], m[j][:2]) / iod for f68, m, iod in pairs) / len(pairs)
            score.append((d, j))
        score.sort()
        total += score[0][0]
        print("%d\t%d\t%.4f\t%d (%.4f)" % (k, score[0][1], score[0][0], score[1][1], score[1][0]))
    print("# mean over the 68 points: %.4f inter-ocular distances" % (total / 68))


if __name__ == "__main__":
    main()
