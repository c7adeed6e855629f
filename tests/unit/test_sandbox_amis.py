from __future__ import annotations

from stemcell.sandbox.amis import CANONICAL_OWNER, image_by_id, ubuntu_images


def test_catalogue_covers_noble_and_jammy_on_both_arches() -> None:
    images = ubuntu_images()
    combos = {(i.release, i.deb_arch) for i in images}
    assert combos == {("24.04", "amd64"), ("24.04", "arm64"), ("22.04", "amd64"),
                      ("22.04", "arm64")}
    # Two builds each, so "newest by CreationDate" is a real choice.
    assert len(images) == 8


def test_names_follow_canonicals_convention() -> None:
    names = {i.name for i in ubuntu_images()}
    assert "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261120" in names
    assert "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-arm64-server-20261024" in names


def test_records_are_moto_ami_records() -> None:
    image = next(i for i in ubuntu_images() if i.deb_arch == "arm64")
    record = image.moto_record("eu-west-1")
    assert record["owner_id"] == CANONICAL_OWNER
    assert record["architecture"] == "arm64" and image.arch == "arm64"
    assert record["creation_date"].startswith(f"{image.serial[:4]}-")
    assert record["public"] is True and record["root_device_type"] == "ebs"


def test_ids_are_stable_per_region_and_distinct() -> None:
    first, second = image_by_id("us-east-1"), image_by_id("us-east-1")
    assert first.keys() == second.keys()
    assert len(first) == len(ubuntu_images())
    assert not set(first) & set(image_by_id("eu-west-1"))
    assert all(len(i) == len("ami-0123456789abcdef0") for i in first)
