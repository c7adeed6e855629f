"""The lab's boot measurement still lines up with a guest whose wall clock reads the
host's time while the sandbox's modeled clock runs hours ahead.

step_measure_boots learns a guest's clock offset from ``date +%s.%N`` (timing/skew.py)
and moves cloud-init's stamps onto the modeled clock by it. That only works when
``date`` reads the clock that stamped the log, so this test does exactly what the step
does, against a booted guest, and checks the corrected stages against the guest's own
modeled phase marks. It also checks that the log's intervals are modeled seconds."""

from __future__ import annotations

import time

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import BootModel, Disk, Guest
from stemcell.timing.cloudinit_log import read_boot, shift
from stemcell.timing.skew import Sample, estimate, parse_date_output

AHEAD = 3 * 3600.0
SPEED = 100.0


def test_clock_offset_correction_puts_cloud_init_stages_on_the_modeled_marks() -> None:
    # What a sandbox's clock looks like after a while at --speed > 1: hours ahead.
    clock = ModelClock(SPEED, epoch=time.time() + AHEAD)
    g = Guest("i-0clockoffset0000", Disk.ubuntu(), clock, BootModel.default(),
              private_ip="172.31.5.6", user_data="#!/bin/bash\nsleep 20\n")
    try:
        g.boot()
        deadline = time.monotonic() + 60
        while g.phase != "ready" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert g.phase == "ready"

        # the time of day the guest shows is the host's, not the model's
        status, out = g.run("date +%s.%N")
        shown = parse_date_output(out)
        assert status == 0 and shown is not None
        assert abs(shown - time.time()) < 600 < AHEAD

        # what step_measure_boots does: sample the offset, read analyze dump, shift
        samples = []
        for _ in range(5):
            sent = clock.now()
            _, out = g.run("date +%s.%N")
            received = clock.now()
            guest = parse_date_output(out)
            assert guest is not None
            samples.append(Sample(sent, received, guest))
        offset = estimate(samples)
        # guest minus ours: the guest's clock is behind the model by what the model
        # had compressed before the guest was created
        assert offset.significant
        assert abs(offset.seconds + g.system.clock_offset) <= offset.uncertainty + 0.5
        status, dump = g.run("cloud-init analyze dump")
        assert status == 0, dump
        boot, _ = read_boot(dump)
        ours = shift(boot, offset.seconds)

        tol = 2.0 + offset.uncertainty  # modeled seconds
        start, end = ours.start, ours.end
        assert start is not None and end is not None
        assert g.marks["booting"] - tol <= start <= g.marks["network"] + tol
        assert g.marks["sshd"] - tol <= end <= g.marks["ready"] + tol
        final = ours.stages["modules-final"]
        assert final.seconds is not None and final.seconds >= 20.0  # the script's sleep 20
        # the log's own account of the boot takes the model's seconds (a log stamped in
        # host seconds would show this boot in about a hundredth of them)
        assert 20.0 <= end - start <= g.marks["ready"] - g.marks["booting"] + tol
    finally:
        g.destroy()
