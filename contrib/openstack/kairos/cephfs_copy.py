"""Copy a share's snapshot into a new share, through two bindings' keys.

Kairos makes shares, snapshots and keys, but has no share clone: a share
made from a snapshot is a new share that the Manila driver fills with the
snapshot's files. It reads through a read-only binding of the source share
and writes through a binding of the new share (libcephfs, as ceph-fuse
does), so the copy reaches those two directories and nothing else, and
the new share's CephFS quota holds it.

Files, directories and symbolic links are copied with their mode, owner
and times; runs of zeros are left as holes. Other file types (devices,
FIFOs, sockets) are skipped.
"""

import stat

import cephfs

# Bytes read and written per call.
CHUNK = 4 * 1024 * 1024
# Seconds a mount or a request may wait on the cluster.
TIMEOUT_S = "60"
# Longest symbolic link target read.
LINK_MAX = 4096


def mount(creds, root):
    """A libcephfs mount of @root with the binding credentials @creds."""
    fs = cephfs.LibCephFS(auth_id=creds["user"])
    fs.conf_set("mon_host", creds["mon_host"])
    fs.conf_set("key", creds["key"])
    fs.conf_set("keyring", "")
    fs.conf_set("client_mount_timeout", TIMEOUT_S)
    fs.conf_set("rados_mon_op_timeout", TIMEOUT_S)
    fs.conf_set("rados_osd_op_timeout", TIMEOUT_S)
    # Pacific's binding takes the root as bytes.
    fs.mount(mount_root=root.encode(), filesystem_name=creds["fs_name"])
    return fs


def unmount(fs):
    try:
        fs.unmount()
    finally:
        fs.shutdown()


def _copy_file(src, s_path, dst, d_path, st):
    fd_in = src.open(s_path, "r")
    try:
        fd_out = dst.open(d_path, "w", 0o600)
        try:
            offset = 0
            while offset < st.st_size:
                data = src.read(fd_in, offset, CHUNK)
                if not data:
                    break
                if data.count(0) != len(data):
                    dst.write(fd_out, data, offset)
                offset += len(data)
            dst.ftruncate(fd_out, st.st_size)
            dst.fsync(fd_out, 0)
        finally:
            dst.close(fd_out)
    finally:
        src.close(fd_in)


def _list(src, path):
    names = []
    d = src.opendir(path)
    try:
        while True:
            e = src.readdir(d)
            if e is None:
                return names
            name = e.d_name.decode()
            if name not in (".", ".."):
                names.append(name)
    finally:
        src.closedir(d)


def _times(st):
    return (int(st.st_atime.timestamp()), int(st.st_mtime.timestamp()))


def copy_tree(src, src_root, dst):
    """Copy directory @src_root of mount @src into the root of mount @dst.

    Return: (files, bytes) copied.
    """
    files = nbytes = 0
    todo = [(src_root, "")]
    dirs = []  # (dst path, stat), given their mode and times once filled
    while todo:
        s_dir, d_dir = todo.pop()
        for name in _list(src, s_dir):
            s_path, d_path = s_dir + "/" + name, d_dir + "/" + name
            st = src.lstat(s_path)
            if stat.S_ISDIR(st.st_mode):
                dst.mkdir(d_path, 0o700)
                todo.append((s_path, d_path))
                dirs.append((d_path, st))
            elif stat.S_ISLNK(st.st_mode):
                dst.symlink(src.readlink(s_path, LINK_MAX).decode(), d_path)
                dst.lchown(d_path, st.st_uid, st.st_gid)
            elif stat.S_ISREG(st.st_mode):
                _copy_file(src, s_path, dst, d_path, st)
                dst.chown(d_path, st.st_uid, st.st_gid)
                dst.chmod(d_path, stat.S_IMODE(st.st_mode))
                dst.utime(d_path, _times(st))
                files += 1
                nbytes += st.st_size
    # Deepest first: filling a directory changes its times.
    for d_path, st in reversed(dirs):
        dst.chown(d_path, st.st_uid, st.st_gid)
        dst.chmod(d_path, stat.S_IMODE(st.st_mode))
        dst.utime(d_path, _times(st))
    return files, nbytes
