#!/usr/bin/env python3
"""Benchmarks of the filesystem, each against a baseline measured in the same run. Prints
figures; asserts nothing about time.

  sequential  read a 1-hour window through the mount with the page cache cold, vs reading a
              plain file of the same size on the same disk, also cold; as the reference of
              what any FUSE read path reaches here, that plain file through fuse-plain (a
              file system that only splices it, with pcapfs's request size and readahead);
              and the window again with only the mount's own pages dropped (segments in
              memory, as they are for recent traffic); and, as what the stored layout allows
              any reader, the segment files that hold the window's records read whole and
              directly, several at a time. Four windows: one device of 20 whose
              records cluster, one spread thinly through the hour, a single-device spool,
              and the same single device in 15-minute segments.
  ls -l       of a device directory holding 30 days of hourly files
  open        open + first 64 KiB of a 1-hour window
  end to end  cat of the mounted window vs `tcpdump -r <segments of that hour> -w - '<filter>'`

Environment: PCAPFSCTL, PCAPFS_GEN, PCAPFS, TESTS_DIR, FUSE_PLAIN.
"""
import calendar, os, shutil, sqlite3, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import drop_caches, register  # noqa: E402

CTL, GEN, FS, TESTS = (os.environ[k] for k in ('PCAPFSCTL', 'PCAPFS_GEN', 'PCAPFS', 'TESTS_DIR'))
FUSE_PLAIN = os.environ.get('FUSE_PLAIN')
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '5'))
COLD_ROUNDS = 2 * ROUNDS - 1  # cold reads vary most on a shared machine
READAHEAD_KB = 1024  # what pcapfs sets on its mount at the first open


def read_all(path, bufsize=1 << 20):
    """Read path from start to end into one reused buffer, as cat, dd and cp do (a fresh
    buffer per read would add the reader's own page faults to every figure)."""
    buf = bytearray(bufsize)
    t0 = time.perf_counter()
    n = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            k = os.readv(fd, [buf])
            if k <= 0:
                break
            n += k
    finally:
        os.close(fd)
    return time.perf_counter() - t0, n


class FusePlain:
    """The plain file mounted through fuse-plain, as <mnt>/f (None without FUSE_PLAIN)."""
    def __init__(self, plain, mnt):
        self.mnt, self.proc = mnt, None
        if not FUSE_PLAIN:
            return
        os.makedirs(mnt, exist_ok=True)
        self.proc = subprocess.Popen([FUSE_PLAIN, plain, mnt])
        for _ in range(100):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        dev = os.stat(mnt).st_dev
        with open(f'/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb', 'w') as f:
            f.write(f'{READAHEAD_KB}\n')

    def path(self):
        return os.path.join(self.mnt, 'f') if self.proc else None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        if self.proc:
            subprocess.run(['fusermount3', '-u', self.mnt])
            self.proc.wait()


SEGS_AHEAD = 8


def read_segments(segs):
    """Read segment files whole, in order, as the quickest reader of them found here does:
    the next SEGS_AHEAD files advised POSIX_FADV_WILLNEED, so that the disk works on several
    at once. Seconds."""
    t0 = time.perf_counter()
    fds = [os.open(s, os.O_RDONLY) for s in segs]
    try:
        for fd in fds[:SEGS_AHEAD]:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        buf = bytearray(1 << 20)
        for i, fd in enumerate(fds):
            if i + SEGS_AHEAD < len(fds):
                os.posix_fadvise(fds[i + SEGS_AHEAD], 0, 0, os.POSIX_FADV_WILLNEED)
            while os.readv(fd, [buf]) > 0:
                pass
    finally:
        for fd in fds:
            os.close(fd)
    return time.perf_counter() - t0


def window_segments(spool, device, start):
    """The segment files that hold records of device in the hour from start (epoch
    seconds), in time order, and their size in bytes."""
    db = sqlite3.connect(f'file:{spool}/catalog.db?mode=ro', uri=True)
    try:
        segs = [os.path.join(spool, p + '.pcap') for (p,) in db.execute(
            'SELECT s.path FROM segment_devices sd JOIN segments s ON s.id = sd.segment_id '
            'JOIN devices d ON d.id = sd.device_id WHERE d.name = ? AND sd.t_last >= ? '
            'AND sd.t_first < ? ORDER BY s.t_first', (device, start * 10**9, (start + 3600) * 10**9))]
    finally:
        db.close()
    return segs, sum(os.stat(p).st_size for p in segs)


def cold_read(path, plain, ref_mnt, segs=None):
    """Median MiB/s of reading path, a plain file of its size (made once), that file through
    fuse-plain and, given segs, the window's segment files (read_segments), each with the
    page cache dropped first, in turn: (size, mount MiB/s, plain MiB/s, fuse-plain MiB/s or
    None, segments MiB/s of the window's size or None)."""
    size = os.stat(path).st_size
    if not os.path.exists(plain):
        with open(plain, 'wb') as f:
            f.write(os.urandom(size))
    tm, tp, tr, ts = [], [], [], []
    with FusePlain(plain, ref_mnt) as ref:
        for _ in range(COLD_ROUNDS):
            drop_caches()
            tm.append(read_all(path)[0])
            drop_caches()
            tp.append(read_all(plain)[0])
            if ref.path():
                drop_caches()
                tr.append(read_all(ref.path())[0])
            if segs:
                drop_caches()
                ts.append(read_segments(segs))
    mib = size / 2**20
    return (size, mib / statistics.median(tm), mib / statistics.median(tp),
            mib / statistics.median(tr) if tr else None,
            mib / statistics.median(ts) if ts else None)


def mount_cache_cold(path):
    """Median MiB/s of reading path with the segments in memory and only the mount's own
    pages of the file dropped (POSIX_FADV_DONTNEED on the mounted file)."""
    read_all(path)
    times = []
    for _ in range(ROUNDS):
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        times.append(read_all(path)[0])
    return os.stat(path).st_size / 2**20 / statistics.median(times)


class Mount:
    def __init__(self, spool, mnt, opts=()):
        self.mnt = mnt
        os.makedirs(mnt, exist_ok=True)
        subprocess.run([FS, spool, mnt] + [a for o in opts for a in ('-o', o)], check=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        subprocess.run(['fusermount3', '-u', self.mnt])


def spool_with(work, name, gen_args, init_args=()):
    cap, tsv = os.path.join(work, name + '.pcap'), os.path.join(work, name + '.tsv')
    if not os.path.exists(cap):
        subprocess.run([GEN] + gen_args + ['-o', cap, '--registry', tsv], check=True)
    spool = os.path.join(work, name + ''.join(init_args).replace('-', '') + '-spool')
    ctl = [CTL, '--spool', spool, '--quiet']
    subprocess.run(ctl + ['init'] + list(init_args), check=True)
    register(ctl, tsv)
    subprocess.run(ctl + ['import', '--no-progress', cap], check=True)
    return spool, cap, tsv, ctl


def main():
    work = tempfile.mkdtemp(prefix='pcapfs-bench-', dir='/var/tmp')
    try:
        # A busy hour: 1.5 M packets over 3 hours of 50 devices; dev-003 is the bursty one.
        spool, cap, tsv, ctl = spool_with(work, 'busy', ['--packets', '1500000', '--devices', '20',
                                                          '--duration', '10800', '--seed', '5'])
        mnt = os.path.join(work, 'mnt')
        win = '20261122T090000Z--20261122T100000Z.pcap'
        dev = 'dev-003'
        # Cold sequential reads, each against a plain file of the same size in the same
        # rounds: the busy window (records of 20 devices interleaved) and the hour of a spool
        # whose only device owns every record (long contiguous stretches); each with the
        # default (replies from file-descriptor buffers where the bytes lie in few stretches
        # of segment files) and with -o nosplice (every reply copied).
        one = ['--packets', '300000', '--devices', '1', '--duration', '3600', '--seed', '7']
        spool1, _, _, _ = spool_with(work, 'one', one)
        # The same traffic in 15-minute segments (--segment-seconds 900): four files of 29 MiB
        # for the hour instead of sixty of 2 MiB, as a busier interface fills its segments.
        spool15, _, _, _ = spool_with(work, 'one', one, ['--segment-seconds', '900'])
        # dev-007 holds a twentieth of the hour spread thinly through it: reading its window
        # cold means reading nearly every page of the hour's segments.
        cases = [('20 devices', spool, dev, win),
                 ('20 devices, sparse', spool, 'dev-007', win),
                 ('1 device', spool1, 'dev-000', '20261122T080000Z--20261122T090000Z.pcap'),
                 ('1 device, 15-minute segments', spool15, 'dev-000',
                  '20261122T080000Z--20261122T090000Z.pcap')]
        for label, sp, d, w in cases:
            for opts in (['nosplice'], []):
                # The files behind the window read directly (no FUSE), once per case.
                segs, seg_bytes = window_segments(sp, d, calendar.timegm(
                    time.strptime(w.split('--')[0], '%Y%m%dT%H%M%SZ')))
                with Mount(sp, mnt, opts):
                    sz, m, p, r, g = cold_read(os.path.join(mnt, 'pcap', d, w),
                                               os.path.join(work, f'plain-{d}.pcap'),
                                               os.path.join(work, 'ref'),
                                               None if opts else segs)
                    print(f'sequential read, cold cache, {label}, {d} ({sz / 2**20:.1f} MiB), '
                          f'{"-o nosplice" if opts else "splice"}: mount {m:.0f} MiB/s, '
                          f'plain file {p:.0f} MiB/s: {m / p:.2f}x of plain' +
                          (f'; the plain file through fuse-plain {r:.0f} MiB/s: {r / p:.2f}x of '
                           f'plain (the mount at {m / r:.2f}x of it)' if r else ''))
                    if g:
                        print(f'sequential read, cold cache, {label}, {d}: the {len(segs)} segment '
                              f'files holding its records ({seg_bytes / 2**20:.1f} MiB) read whole '
                              f'without FUSE, {SEGS_AHEAD} files advised ahead, in the time of '
                              f'{g:.0f} MiB/s of the window: {g / p:.2f}x of plain (the mount at '
                              f'{m / g:.2f}x of it)')
                    if not opts:
                        h = mount_cache_cold(os.path.join(mnt, 'pcap', d, w))
                        print(f'sequential read, only the mount\'s cache cold (segments in memory), '
                              f'{label}, {d}: mount {h:.0f} MiB/s, against the plain file cold: '
                              f'{h / p:.2f}x')

        with Mount(spool, mnt):
            path = os.path.join(mnt, 'pcap', dev, win)

            # open + first 64 KiB of a window not read yet (a fresh name each time)
            times = []
            for i in range(ROUNDS * 4):
                s = 1795338000 + 60 * (i + 1)
                name = os.path.join(mnt, 'pcap', 'dev-007', f'{s}--{s + 3000}.pcap')
                t0 = time.perf_counter()
                with open(name, 'rb') as f:
                    f.read(65536)
                times.append(time.perf_counter() - t0)
            print(f'open + first 64 KiB of a 50-minute window (60 segments): median '
                  f'{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms')

            # end to end: cat the window vs tcpdump over that hour's segments
            db = sqlite3.connect(f'file:{spool}/catalog.db?mode=ro', uri=True)
            segs = [os.path.join(spool, p + '.pcap') for (p,) in db.execute(
                'SELECT path FROM segments WHERE t_last >= ? AND t_first < ? ORDER BY t_first',
                (1795338000 * 10**9, 1795341600 * 10**9))]
            plan = subprocess.run([os.path.join(TESTS, 'reference.sh'), '--print-plan', cap, tsv, dev,
                                   '1795338000', '1795341600'], check=True, capture_output=True,
                                  text=True).stdout
            flt = plan.splitlines()[0].split('\t', 2)[2]
            tc, tt = [], []
            for i in range(ROUNDS):
                subprocess.run(['fusermount3', '-u', mnt], check=True)  # cold attribute caches
                subprocess.run([FS, spool, mnt], check=True)
                t0 = time.perf_counter()
                subprocess.run(['cat', path], check=True, stdout=subprocess.DEVNULL)
                tc.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for seg in segs:
                    subprocess.run(['tcpdump', '-r', seg, '-w', '/dev/null', flt], check=True,
                                   stderr=subprocess.DEVNULL)
                tt.append(time.perf_counter() - t0)
            c, t = statistics.median(tc), statistics.median(tt)
            print(f'end to end, 1 h of {dev} ({len(segs)} segments): cat from the mount '
                  f'{c * 1000:.0f} ms, tcpdump over the segments {t * 1000:.0f} ms: {t / c:.0f}x faster')

        # 30 days of hourly files
        # ... that ended a day ago, as stored traffic has
        start = (int(time.time()) - 31 * 86400) // 3600 * 3600
        spool30, _, _, _ = spool_with(work, 'month', ['--packets', '200000', '--devices', '5',
                                                      '--start', str(start),
                                                      '--duration', str(30 * 86400), '--seed', '6'])
        with Mount(spool30, mnt):
            times = []
            for i in range(ROUNDS):
                subprocess.run(['fusermount3', '-u', mnt], check=True)
                subprocess.run([FS, spool30, mnt], check=True)
                t0 = time.perf_counter()
                out = subprocess.run(['ls', '-l', os.path.join(mnt, 'pcap', 'dev-002')], check=True,
                                     capture_output=True, text=True).stdout
                times.append(time.perf_counter() - t0)
            n = len(out.splitlines()) - 1
            print(f'ls -l of a device directory with {n} hourly files (30 days), fresh mount: '
                  f'median {statistics.median(times) * 1000:.0f} ms')
    finally:
        for m in ('mnt', 'ref'):
            subprocess.run(['fusermount3', '-u', os.path.join(work, m)], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
