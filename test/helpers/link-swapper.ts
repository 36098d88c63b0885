import { execFileSync } from 'node:child_process';

/**
 * A hostile workload: `python3 -c SWAPPER <folder> <host folder> <seconds>` swaps `<folder>/.ssh` between a link
 * to the host folder and a full folder (renameat2's RENAME_EXCHANGE, atomic), as fast as it can, while Gantry
 * works on `<folder>` (fs.rm on the entry emptied the host folder within a second; `cp -a` of the folder copied
 * host files).
 */
export const SWAPPER = `
import ctypes, os, sys, time, shutil
libc = ctypes.CDLL(None, use_errno=True)
base, victim, end = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
s, t = base + '/.ssh', base + '/.alt'
def kind(p):
    return 'link' if os.path.islink(p) else ('dir' if os.path.isdir(p) else ('file' if os.path.exists(p) else None))
def fix():
    if {kind(s), kind(t)} == {'dir', 'link'}: return
    for p in (s, t):
        if kind(p) == 'dir': shutil.rmtree(p, ignore_errors=True)
        elif kind(p) is not None: os.unlink(p)
    os.symlink(victim, s)
    os.makedirs(base + '/.mk', exist_ok=True)
    for i in range(20): open(base + '/.mk/f%d' % i, 'w').write('y')
    os.rename(base + '/.mk', t)
n = 0
while time.time() < end:
    if libc.renameat2(-100, s.encode(), -100, t.encode(), 2) != 0 or n % 200 == 0:
        try: fix()
        except OSError: pass
    n += 1
`;
/** Whether SWAPPER can run here (Linux, python3 with renameat2). */
export function swapperRuns(): boolean {
  try {
    execFileSync('python3', ['-c', 'import ctypes; ctypes.CDLL(None).renameat2'], { stdio: 'ignore' });
    return process.platform === 'linux';
  } catch {
    return false;
  }
}
