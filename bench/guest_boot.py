"""How faithfully a simulated guest keeps modeled time, at several --speed values.

Boots one guest whose user data installs Apache (setup #1's work) and one from a
disk that already has it (setup #2), and prints, per speed: wall seconds, the
modeled boot-to-ready time and how far it is above the model's own sum (the
interpreter's CPU time counts `speed` times over in modeled seconds).

    /work/venv/bin/python bench/guest_boot.py
"""

from __future__ import annotations

import time

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, BootModel, Disk, Guest, Shell, System

INSTALL = ("#!/bin/bash\nset -eux\napt-get update\n"
           "apt-get install -y apache2 libapache2-mod-wsgi-py3\necho '<h1>web</h1>' > "
           "/var/www/html/index.html\n")
DROP_IN = "#!/bin/bash\nset -eux\necho '<h1>web</h1>' > /var/www/html/index.html\n"


def baked() -> Disk:
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e9))
    Shell(system, user="root").run("apt-get update -qq && apt-get install -y -qq apache2 "
                                   "libapache2-mod-wsgi-py3", IO())
    return system.disk


def boot(disk: Disk, user_data: str, speed: float) -> tuple[float, float]:
    g = Guest("i-0bench", disk, ModelClock.starting_now(speed), user_data=user_data)
    start = time.monotonic()
    g.boot()
    while g.phase != "ready":
        time.sleep(0.002)
    wall = time.monotonic() - start
    modeled = g.marks["ready"] - g.marks["booting"]
    g.destroy()
    return wall, modeled


def ideal(model: BootModel, install: bool) -> float:
    base = (model.running_to_network + max(model.network_to_sshd, model.init_network) +
            model.modules_config + model.modules_final)
    if not install:
        return base
    disk = Disk.ubuntu()
    from stemcell.sandbox.machine import Catalogue

    plan = Catalogue.default().closure(["apache2", "libapache2-mod-wsgi-py3"], disk.packages)
    work = model.apt_update + sum(
        model.download_seconds(p.download) + model.unpack_per_package +
        p.installed_kb * 1024 / model.unpack_bytes_per_s + model.configure_per_package
        for p in plan) + model.triggers + model.service_start
    return base + work


def main() -> None:
    model = BootModel.default()
    image = baked()
    print(f"{'speed':>6} {'setup':>6} {'wall s':>8} {'modeled s':>10} {'model sum':>10} "
          f"{'excess':>7}")
    for speed in (20.0, 100.0, 500.0):
        for setup, disk, data in (("#1", Disk.ubuntu(), INSTALL), ("#2", image.copy(), DROP_IN)):
            wall, modeled = boot(disk, data, speed)
            want = ideal(model, setup == "#1")
            print(f"{speed:>6.0f} {setup:>6} {wall:>8.3f} {modeled:>10.1f} {want:>10.1f} "
                  f"{(modeled - want) / want * 100:>6.1f}%")


if __name__ == "__main__":
    main()
