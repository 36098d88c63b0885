/**
 * The output stamper of a process workload: one process in the workload's group that reads the
 * workload's stdout and stderr (two FIFOs) and appends `<epoch µs> <o|e> <text>` lines to `output.log`.
 * One reader for both streams keeps their order as well as it can be known: lines read in one wake-up
 * get one time, stdout first. Once it has opened the FIFOs it ignores SIGTERM/SIGINT and ends when the last
 * writer is gone, so a stopping workload's last words are kept. perl when it has Time::HiRes (small and quick
 * to start; no module loaded before its open), else node, which every Gantry host has. A line longer than
 * 64 KiB (a progress bar redrawn with `\r`) is cut into pieces of 64 to 128 KiB, as reads end.
 */
export const STAMP_PERL = `# No module before the FIFOs are open: the wrapper waits for that, and each module is milliseconds of every
# start. A perl without Time::HiRes (Debian's perl-base) stops here, quietly, before it opens them: node takes over.
grep { -f "$_/Time/HiRes.pm" } @INC or exit 3;
open(my $o, '<', $ARGV[0]) or die "stdout: $!"; open(my $e, '<', $ARGV[1]) or die "stderr: $!";
$SIG{TERM} = $SIG{INT} = 'IGNORE';
# The wrapper starts the workload once this is open (read and write: it never waits); kept open, so that an open
# of the wrapper's that comes after still finds a reader.
open(my $ready, '+<', $ARGV[2]) or die "ready: $!";
# Found but not loadable after all: whole seconds.
my $now = eval { require Time::HiRes; (() = Time::HiRes::gettimeofday()) == 2 or die; sub { sprintf('%d%06d', Time::HiRes::gettimeofday()) } } || sub { time() . '000000' };
binmode $_ for ($o, $e, \\*STDOUT); $| = 1;
my %fh = (fileno($o) => [$o, 'o'], fileno($e) => [$e, 'e']); my %rest = (o => '', e => '');
while (%fh) {
  my $rin = ''; vec($rin, $_, 1) = 1 for keys %fh; my $rout = $rin;
  if (select($rout, undef, undef, undef) < 0) { next if $! == 4; die "select: $!"; } # 4: EINTR (Errno is a module)
  for my $f (sort { $b->[1] cmp $a->[1] } map { $fh{$_} } grep { vec($rout, $_, 1) } keys %fh) {
    my ($fh, $k) = @$f;
    my $n = sysread($fh, my $buf, 65536);
    my $t = $now->();
    if (!$n) { print "$t $k $rest{$k}\\n" if length $rest{$k}; $rest{$k} = ''; delete $fh{fileno $fh}; close $fh; next; }
    my @l = split /\\n/, $rest{$k} . $buf, -1; $rest{$k} = pop @l;
    if (length $rest{$k} > 65536) { push @l, $rest{$k}; $rest{$k} = ''; }
    print join('', map { "$t $k $_\\n" } @l) if @l;
  }
}
`;

export const STAMP_NODE = `'use strict';
const fs = require('node:fs');
const net = require('node:net');
const rest = { o: '', e: '' };
const now = () => String(Math.floor((performance.timeOrigin + performance.now()) * 1000));
const emit = (text) => { const b = Buffer.from(text, 'latin1'); let at = 0; while (at < b.length) at += fs.writeSync(1, b, at); };
// Opened in the wrapper's order; read through one event loop (epoll), not the thread pool, so the
// order in which the two streams became readable is kept.
const fds = [['o', fs.openSync(process.argv[2], 'r')], ['e', fs.openSync(process.argv[3], 'r')]];
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => {});
// The wrapper starts the workload once this is open (read and write: it never waits); kept open, so that an open
// of the wrapper's that comes after still finds a reader.
fs.openSync(process.argv[4], 'r+');
for (const [k, fd] of fds) {
  new net.Socket({ fd, readable: true, writable: false })
    .on('data', (chunk) => {
      const t = now();
      const l = (rest[k] + chunk.toString('latin1')).split('\\n');
      rest[k] = l.pop();
      if (rest[k].length > 65536) { l.push(rest[k]); rest[k] = ''; }
      if (l.length > 0) emit(l.map((x) => t + ' ' + k + ' ' + x + '\\n').join(''));
    })
    .on('end', () => { if (rest[k] !== '') emit(now() + ' ' + k + ' ' + rest[k] + '\\n'); rest[k] = ''; });
}
`;
