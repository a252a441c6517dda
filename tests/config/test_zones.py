"""Availability zones of pinned stacks: from config or the kit's table, never from a context lookup."""

from __future__ import annotations

import pytest

from mlops_kit.config import ConfigError
from mlops_kit.config.backbone import KNOWN_ZONES, NetworkConfig, zones_for
from tests.conftest import config_from_yaml

PINNED = 'environment: {account: "123456789012", region: %s}\n'


def test_known_regions_take_the_letters_every_account_sees() -> None:
    assert zones_for("ap-northeast-1", NetworkConfig(az_count=3)) == ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
    assert zones_for("ca-central-1", NetworkConfig(az_count=3)) == ["ca-central-1a", "ca-central-1b", "ca-central-1d"]
    assert zones_for("eu-west-1", NetworkConfig(az_count=2)) == ["eu-west-1a", "eu-west-1b"]


def test_configured_zones_win_but_only_in_their_own_region() -> None:
    network = NetworkConfig(az_count=2, availability_zones=["us-west-1b", "us-west-1c"])
    assert zones_for("us-west-1", network) == ["us-west-1b", "us-west-1c"]
    # A delivery stage in another region ignores them and uses that region's table.
    assert zones_for("eu-west-1", network) == ["eu-west-1a", "eu-west-1b"]


def test_every_known_region_has_distinct_letters() -> None:
    for region, letters in KNOWN_ZONES.items():
        assert len(set(letters)) == len(letters) >= 3, region


def test_fails_if_a_pinned_region_has_no_known_zones_and_none_are_configured() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_yaml(PINNED % "us-west-1")
    assert caught.value.field == "network.availability_zones"
    assert "region us-west-1 needs 2 zone names and the kit knows 0" in str(caught.value)
    assert "list 2 zones of us-west-1 as your account sees them" in str(caught.value)


def test_fails_if_more_zones_are_asked_than_the_region_offers() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_yaml(PINNED % "eu-west-1" + "network: {az_count: 4}\n")
    assert "region eu-west-1 needs 4 zone names and the kit knows 3 (eu-west-1a, eu-west-1b, eu-west-1c)" in str(caught.value)


def test_a_region_outside_the_table_synthesizes_with_its_zones_configured() -> None:
    config = config_from_yaml(PINNED % "us-west-1" + "network: {availability_zones: [us-west-1b, us-west-1c]}\n")
    assert zones_for("us-west-1", config.network) == ["us-west-1b", "us-west-1c"]
