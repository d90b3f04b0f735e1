#!/usr/bin/python3
"""bench_csi.py - kairos-csi measured through its gRPC socket (grpcio, the
stubs made from csi/csi.proto on the fly), for bench/bench_csi.sh:

  bench_csi.py cycles SOCKET PROJECT TOKEN SECONDS CLIENTS
      CreateVolume + DeleteVolume of 64 MiB volumes by CLIENTS concurrent
      clients for SECONDS (cycles finished within SECONDS count, as in
      bench_cycle); prints "cycles/s p50_ms p99_ms errors"
  bench_csi.py stage SOCKET PROJECT TOKEN WORKDIR ROUNDS
      NodeStageVolume + NodePublishVolume of a share and of an ext4 volume,
      ROUNDS times each (unpublish and unstage between, untimed); prints
      "share first median" and "volume first median" in ms (the first
      volume stage runs mkfs)
"""
import os
import statistics
import sys
import tempfile
import threading
import time

import grpc
from grpc_tools import protoc

MiB = 1 << 20
PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "csi", "csi.proto")


def stubs():
    out = tempfile.mkdtemp(prefix="bench-csi-stubs.")
    wellknown = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    inc = os.path.dirname(os.path.abspath(PROTO))
    if protoc.main(["protoc", "-I" + inc, "-I" + wellknown, "--python_out=" + out,
                    "--grpc_python_out=" + out, os.path.abspath(PROTO)]) != 0:
        sys.exit("bench_csi: cannot compile csi.proto")
    sys.path.insert(0, out)
    import csi_pb2
    import csi_pb2_grpc
    return csi_pb2, csi_pb2_grpc


pb, rpc = stubs()


def cap(block=False, mode=1, fs=""):
    am = pb.VolumeCapability.AccessMode(mode=mode)
    if block:
        return pb.VolumeCapability(block=pb.VolumeCapability.BlockVolume(), access_mode=am)
    return pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume(fs_type=fs), access_mode=am)


def cycles(sock, project, token, seconds, clients):
    secrets = {"project": project, "token": token}
    stop = time.monotonic() + seconds
    lat, errors, lock = [], [0], threading.Lock()

    def client(i):
        ch = grpc.insecure_channel("unix://" + sock)
        ctl = rpc.ControllerStub(ch)
        n = 0
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                v = ctl.CreateVolume(pb.CreateVolumeRequest(
                    name="pvc-bench-%d-%d" % (i, n), volume_capabilities=[cap()],
                    parameters={"kind": "volume"}, secrets=secrets,
                    capacity_range=pb.CapacityRange(required_bytes=64 * MiB)), timeout=120)
                ctl.DeleteVolume(pb.DeleteVolumeRequest(volume_id=v.volume.volume_id,
                                                        secrets=secrets), timeout=120)
                if time.monotonic() > stop:
                    break
                with lock:
                    lat.append((time.monotonic() - t0) * 1000)
            except grpc.RpcError as e:
                with lock:
                    if not errors[0]:
                        print("bench_csi: %s: %s" % (e.code(), e.details()), file=sys.stderr)
                    errors[0] += 1
            n += 1
        ch.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = seconds
    lat.sort()
    print("%.2f %.1f %.1f %d" % (len(lat) / elapsed, lat[len(lat) // 2] if lat else 0,
                                 lat[len(lat) * 99 // 100] if lat else 0, errors[0]))


def stage(sock, project, token, workdir, rounds):
    secrets = {"project": project, "token": token}
    ch = grpc.insecure_channel("unix://" + sock)
    ctl, node = rpc.ControllerStub(ch), rpc.NodeStub(ch)
    for kind, c in (("share", cap(mode=5)), ("volume", cap(fs="ext4"))):
        vid = ctl.CreateVolume(pb.CreateVolumeRequest(
            name="pvc-bench-stage-" + kind, volume_capabilities=[c], parameters={"kind": kind},
            secrets=secrets, capacity_range=pb.CapacityRange(required_bytes=256 * MiB)),
            timeout=300).volume.volume_id
        staging = os.path.join(workdir, kind, "staging")
        target = os.path.join(workdir, kind, "target")
        os.makedirs(staging, exist_ok=True)
        times = []
        for _ in range(rounds):
            t0 = time.monotonic()
            node.NodeStageVolume(pb.NodeStageVolumeRequest(
                volume_id=vid, staging_target_path=staging, volume_capability=c,
                secrets=secrets), timeout=300)
            node.NodePublishVolume(pb.NodePublishVolumeRequest(
                volume_id=vid, staging_target_path=staging, target_path=target,
                volume_capability=c), timeout=300)
            times.append((time.monotonic() - t0) * 1000)
            node.NodeUnpublishVolume(pb.NodeUnpublishVolumeRequest(volume_id=vid,
                                                                   target_path=target),
                                     timeout=300)
            node.NodeUnstageVolume(pb.NodeUnstageVolumeRequest(volume_id=vid,
                                                               staging_target_path=staging),
                                   timeout=300)
        ctl.DeleteVolume(pb.DeleteVolumeRequest(volume_id=vid, secrets=secrets), timeout=300)
        print("%s %.0f %.0f" % (kind, times[0], statistics.median(times[1:] or times)))


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "cycles":
        cycles(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
    elif len(sys.argv) == 7 and sys.argv[1] == "stage":
        stage(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        sys.exit(__doc__)
