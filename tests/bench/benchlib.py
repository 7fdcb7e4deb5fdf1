"""Helpers shared by the benchmarks: registering a pcapfs-gen registry and dropping the page
cache."""
import subprocess


def register(ctl, tsv):
    """Add the devices of a pcapfs-gen registry TSV with `ctl` (a pcapfsctl argv prefix)."""
    seen = set()
    for line in open(tsv):
        if line.startswith('#') or line.startswith('device\t') or not line.strip():
            continue
        dev, kind, addr, frm, until, _ = line.rstrip('\n').split('\t')
        opt = '--mac' if kind == 'mac' else ('--net' if '/' in addr else '--ip')
        args = [opt, addr]
        if frm != '-':
            args += ['--from', frm]
        if until != '-':
            args += ['--until', until]
        subprocess.run(ctl + ['device', 'set' if dev in seen else 'add', dev] + args, check=True)
        seen.add(dev)


def drop_caches():
    """Write back and drop the page cache (needs root; silently a no-op otherwise)."""
    try:
        subprocess.run(['sync'], check=True)
        with open('/proc/sys/vm/drop_caches', 'w') as f:
            f.write('3\n')
    except OSError:
        pass
