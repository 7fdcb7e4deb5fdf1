#!/usr/bin/env python3
"""Benchmarks of the core store, each against a baseline tool run in the same process of
measurement. Prints figures; asserts nothing about time.

  import   pcapfsctl import vs `tcpdump -r in.pcap -w out.pcap` on the same file (packets/s,
           median of alternating runs), on tmpfs (the pipeline's own cost) and on the disk
  extract  one device's 1-hour window out of 50 devices: pcapfsctl extract vs
           `tcpdump -r <each segment of that hour> -w - '<device filter>'`
  index    index bytes / segment bytes on the generated mix
  memory   peak RSS of import for inputs of growing size

Environment: PCAPFSCTL, PCAPFS_GEN, TESTS_DIR (tests/integration), BENCH_PACKETS (1000000).
"""
import os, resource, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import drop_caches, register  # noqa: E402

CTL = os.environ['PCAPFSCTL']
GEN = os.environ['PCAPFS_GEN']
TESTS = os.environ['TESTS_DIR']
PACKETS = int(os.environ.get('BENCH_PACKETS', '1000000'))
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '3'))
START = 1795334400


def run(cmd, **kw):
    """Run cmd; return (wall seconds, user+sys seconds, max RSS KiB) of that child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss






def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bench_import(where, cap, tsv):
    """pcapfsctl import fsyncs the files it wrote before it reports success; tcpdump does not.
    Both are reported: tcpdump as is, and tcpdump followed by an fsync of its output."""
    walls_i, walls_t, cpu_i, cpu_t, walls_ts = [], [], [], [], []
    for r in range(ROUNDS):
        spool = os.path.join(where, 'spool')
        shutil.rmtree(spool, ignore_errors=True)
        ctl = [CTL, '--spool', spool, '--quiet']
        subprocess.run(ctl + ['init'], check=True)
        register(ctl, tsv)
        out = os.path.join(where, 'tcpdump-out.pcap')
        for order in ((0, 1) if r % 2 == 0 else (1, 0)):
            subprocess.run(['sync'])
            if order == 0:
                w, c, _ = run(ctl + ['import', '--no-progress', cap])
                walls_i.append(w); cpu_i.append(c)
            else:
                w, c, _ = run(['tcpdump', '-r', cap, '-w', out], stderr=subprocess.DEVNULL)
                t0 = time.perf_counter()
                fsync_file(out)
                walls_t.append(w); cpu_t.append(c)
                walls_ts.append(w + time.perf_counter() - t0)
        os.unlink(out)
    wi, wt, wts = statistics.median(walls_i), statistics.median(walls_t), statistics.median(walls_ts)
    ci, ct = statistics.median(cpu_i), statistics.median(cpu_t)
    print(f'import ({where}): pcapfsctl {PACKETS / wi:,.0f} packets/s ({wi:.2f} s wall, {ci:.2f} s cpu); '
          f'tcpdump -r -w {PACKETS / wt:,.0f} packets/s ({wt:.2f} s wall, {ct:.2f} s cpu), '
          f'with fsync {PACKETS / wts:,.0f} packets/s; '
          f'ratio {wt / wi:.2f}x wall ({wts / wi:.2f}x against tcpdump + fsync), {ct / ci:.2f}x cpu')
    return os.path.join(where, 'spool')


def device_filter(cap, tsv, dev, s, e):
    plan = subprocess.run([os.path.join(TESTS, 'reference.sh'), '--print-plan', cap, tsv, dev,
                           str(s), str(e)], check=True, capture_output=True, text=True).stdout
    # one part per line: "<start> <end> <filter>" — a window without reassignment has one part
    parts = [l for l in plan.splitlines() if l.strip() and not l.startswith('#')]
    return parts[0].split(None, 2)[2] if parts else None


def bench_extract(spool, cap, tsv):
    ctl = [CTL, '--spool', spool, '--quiet']
    import sqlite3
    db = sqlite3.connect(f'file:{spool}/catalog.db?mode=ro', uri=True)
    s, e = START + 3600, START + 7200
    segs = [os.path.join(spool, p + '.pcap') for (p,) in db.execute(
        'SELECT path FROM segments WHERE t_last >= ? AND t_first < ? ORDER BY t_first',
        (s * 10**9, e * 10**9))]
    ratios = []
    for dev in ('dev-007', 'dev-023', 'dev-041'):
        flt = device_filter(cap, tsv, dev, s, e)
        if flt is None:
            continue
        # warm both: the question is the work each does, not the disk
        subprocess.run(ctl + ['extract', dev, f'{s}--{e}', '-o', '/dev/null'], check=True)
        times_p, times_t = [], []
        for _ in range(ROUNDS):
            w, _, _ = run(ctl + ['extract', dev, f'{s}--{e}', '-o', '/dev/null'])
            times_p.append(w)
            t0 = time.perf_counter()
            for seg in segs:
                subprocess.run(['tcpdump', '-r', seg, '-w', '/dev/null', flt],
                               check=True, stderr=subprocess.DEVNULL)
            times_t.append(time.perf_counter() - t0)
        tp, tt = statistics.median(times_p), statistics.median(times_t)
        ratios.append(tt / tp)
        print(f'extract {dev} 1 h ({len(segs)} segments): pcapfsctl {tp * 1000:.1f} ms, '
              f'tcpdump over the segments {tt * 1000:.0f} ms: {tt / tp:.0f}x faster')
    if ratios:
        print(f'extract speed-up (median over devices): {statistics.median(ratios):.0f}x')


def bench_index(spool):
    idx = seg = 0
    for root, _, files in os.walk(os.path.join(spool, 'seg')):
        for f in files:
            size = os.path.getsize(os.path.join(root, f))
            if f.endswith('.idx'):
                idx += size
            elif f.endswith('.pcap'):
                seg += size
    print(f'index bytes / segment bytes: {idx:,} / {seg:,} = {100 * idx / seg:.2f}%')


def bench_memory(where):
    rows = []
    for n in (PACKETS // 10, PACKETS, PACKETS * 3):
        cap = os.path.join(where, f'mem-{n}.pcap')
        subprocess.run([GEN, '--packets', str(n), '--devices', '50', '--duration', '10800',
                        '--seed', '3', '-o', cap], check=True)
        spool = os.path.join(where, 'mem-spool')
        shutil.rmtree(spool, ignore_errors=True)
        subprocess.run([CTL, '--spool', spool, '--quiet', 'init'], check=True)
        # measure in a fresh child so that ru_maxrss is this import's own
        out = subprocess.run([sys.executable, '-c', f'''
import resource, subprocess
subprocess.run({[CTL, '--spool', spool, '--quiet', 'import', '--no-progress', cap]!r}, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)'''], check=True,
                             capture_output=True, text=True).stdout
        rows.append((n, os.path.getsize(cap), int(out)))
        os.unlink(cap)
        shutil.rmtree(spool)
    print('import peak RSS: ' + '; '.join(f'{n:,} packets ({b / 2**20:.0f} MiB) -> {r / 1024:.1f} MiB'
                                          for n, b, r in rows))


def main():
    disk = tempfile.mkdtemp(prefix='pcapfs-bench-', dir='/var/tmp')
    shm = tempfile.mkdtemp(prefix='pcapfs-bench-', dir='/dev/shm') if os.path.isdir('/dev/shm') else None
    try:
        cap, tsv = os.path.join(disk, 'all.pcap'), os.path.join(disk, 'devices.tsv')
        subprocess.run([GEN, '--packets', str(PACKETS), '--devices', '50', '--duration', '10800',
                        '--seed', '11', '-o', cap, '--registry', tsv], check=True)
        print(f'input: {PACKETS:,} packets, {os.path.getsize(cap) / 2**20:.0f} MiB, 50 devices, 3 hours')
        if shm:
            shm_cap = os.path.join(shm, 'all.pcap')
            shutil.copy(cap, shm_cap)
            bench_import(shm, shm_cap, tsv)
            os.unlink(shm_cap)
            shutil.rmtree(os.path.join(shm, 'spool'), ignore_errors=True)
        spool = bench_import(disk, cap, tsv)
        bench_index(spool)
        bench_extract(spool, cap, tsv)
        bench_memory(disk)
    finally:
        shutil.rmtree(disk, ignore_errors=True)
        if shm:
            shutil.rmtree(shm, ignore_errors=True)


if __name__ == '__main__':
    main()
