#!/usr/bin/env python3
"""mesh_parity — our face-mesh network against the reference TFLite interpreter (LiteRT,
PyPI ai-edge-litert, test-only) on the very chips our pipeline cut.

    mesh_parity.py <face_landmark.tflite> <workdir>

For every chip_<face>.ppm written by mesh_check, runs the verified .tflite file on the chip
(RGB / 255) and compares the 1404 landmark coordinates and the face logit with
ours_<face>.f32. Prints the per-chip maxima and max_abs_diff=...; exits 1 above 1e-3
(coordinates are in chip pixels of the 192x192 input).
"""
import glob
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

TOL = 1e-3


def read_ppm(path):
    b = open(path, "rb").read()
    parts = b.split(maxsplit=4)
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4][:w * h * 3], np.uint8).reshape(1, h, w, 3)


def main():
    it = Interpreter(model_path=sys.argv[1])
    it.allocate_tensors()
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    worst = worst_flag = 0.0
    chips = sorted(glob.glob(os.path.join(sys.argv[2], "chip_*.ppm")))
    if not chips:
        sys.exit("mesh_parity: no chips")
    for ch in chips:
        it.set_tensor(it.get_input_details()[0]["index"],
                      read_ppm(ch).astype(np.float32) / 255.0)
        it.invoke()
        ref = it.get_tensor(outs["conv2d_21"]).ravel()
        flag = it.get_tensor(outs["conv2d_31"]).ravel()[0]
        ours = np.fromfile(ch.replace("chip_", "ours_").replace(".ppm", ".f32"), np.float32)
        d = float(np.abs(ours[:1404] - ref).max())
        df = float(abs(ours[1404] - flag))
        worst, worst_flag = max(worst, d), max(worst_flag, df)
        print("mesh_parity: %-22s max|diff| %.2e  flag %8.3f vs %8.3f" %
              (os.path.basename(ch)[5:-4], d, ours[1404], flag))
    print("mesh_parity: %d chips, landmarks max|diff| %.2e px, flag logit max|diff| %.2e" %
          (len(chips), worst, worst_flag))
    print("max_abs_diff=%.3g" % max(worst, worst_flag))
    sys.exit(1 if max(worst, worst_flag) > TOL else 0)


if __name__ == "__main__":
    main()
