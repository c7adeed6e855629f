"""The apt mirror: dependency closure, sizes, and what installing does to the disk."""

from __future__ import annotations

from stemcell.sandbox.machine import BootModel, Catalogue, Disk
from stemcell.sandbox.machine.apache_server import enabled, read_config


def test_apache2_pulls_exactly_the_noble_dependency_set() -> None:
    cat = Catalogue.default()
    disk = Disk.ubuntu()
    plan = cat.closure(["apache2"], disk.packages)
    names = [p.name for p in plan]
    assert sorted(names) == sorted([
        "apache2", "apache2-bin", "apache2-data", "apache2-utils", "libapr1t64",
        "libaprutil1t64", "libaprutil1-dbd-sqlite3", "libaprutil1-ldap", "liblua5.4-0",
        "ssl-cert"])
    # dependencies come before what needs them
    assert names.index("apache2-bin") < names.index("apache2")
    assert names.index("libapr1t64") < names.index("apache2-bin")
    total = sum(p.download for p in plan)
    assert 1_800_000 < total < 2_500_000  # apt says "Need to get 2086 kB" on noble


def test_closure_skips_installed_and_shares_dependencies() -> None:
    cat = Catalogue.default()
    installed = dict(Disk.ubuntu().packages)
    first = cat.closure(["apache2"], installed)
    for p in first:
        installed[p.name] = p.version
    wsgi = cat.closure(["libapache2-mod-wsgi-py3"], installed)
    assert [p.name for p in wsgi] == ["libapache2-mod-wsgi-py3"]
    assert cat.closure(["curl"], installed) == []


def test_php_stack_resolves_with_mod_php_and_cli() -> None:
    cat = Catalogue.default()
    names = {p.name for p in cat.closure(["php", "libapache2-mod-php"], Disk.ubuntu().packages)}
    assert {"php8.3", "libapache2-mod-php8.3", "php8.3-cli", "php8.3-common", "apache2"} <= names


def test_every_dependency_is_known_and_sizes_are_realistic() -> None:
    cat = Catalogue.default()
    for info in cat.packages.values():
        for dep in info.depends:
            assert dep in cat.packages or dep in cat.base, (info.name, dep)
        assert 1_000 < info.download < 5_000_000, info.name
        assert info.installed_kb * 1024 >= info.download * 0.5, info.name


def test_installing_apache_writes_the_debian_layout() -> None:
    cat = Catalogue.default()
    disk = Disk.ubuntu()
    for info in cat.closure(["apache2", "libapache2-mod-wsgi-py3"], disk.packages):
        cat.apply(disk, info)
    assert "It works!" in disk.read_text("/var/www/html/index.html")
    assert disk.units["apache2.service"] is True
    assert disk.is_file("/usr/sbin/apache2ctl")
    assert enabled(disk, "mod", "wsgi") and enabled(disk, "site", "000-default")
    cfg = read_config(disk)
    assert cfg.document_root == "/var/www/html" and 80 in cfg.listen
    assert "wsgi" in cfg.modules and "mpm_event" in cfg.modules and not cfg.errors


def test_mod_php_switches_to_prefork() -> None:
    cat = Catalogue.default()
    disk = Disk.ubuntu()
    for info in cat.closure(["libapache2-mod-php"], disk.packages):
        cat.apply(disk, info)
    cfg = read_config(disk)
    assert "php" in cfg.modules and "mpm_prefork" in cfg.modules
    assert "mpm_event" not in cfg.modules


def test_boot_model_numbers_all_have_sources() -> None:
    model = BootModel.default()
    assert model.pending_to_running > 0 and model.mirror_bytes_per_s > 1e6
    for name in ("pending_to_running", "running_to_network", "network_to_sshd", "apt_update",
                 "mirror_bytes_per_s", "unpack_per_package", "service_start",
                 "snapshot_bytes_per_s", "init_local", "modules_final"):
        assert model.sources.get(name), name
    assert model.snapshot_seconds(0) > model.image_base
