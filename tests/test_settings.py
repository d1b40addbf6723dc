import pytest

from letta_ls.settings import SettingsError, structure_settings, unstructure_settings


def test_defaults_match_the_spec():
    raw = unstructure_settings(structure_settings())
    assert raw["model"]["contextWindow"] == 128000
    assert raw["sleeptime"] == {"trigger": "step-count", "stepCount": 25, "idleSeconds": 30, "merge": "auto"}
    assert raw["memory"] == {"systemTokenBudget": 20000, "fileTokenLimit": 4000, "diagnostics": {}}
    assert raw["sync"] == {"remote": None}


def test_later_sources_win_and_nested_keys_merge():
    s = structure_settings({"memory": {"fileTokenLimit": 10, "diagnostics": {"secret": "warning"}}},
                           {"memory": {"systemTokenBudget": 5, "diagnostics": {"link-broken": "off"}}})
    assert (s.memory.fileTokenLimit, s.memory.systemTokenBudget) == (10, 5)
    assert s.memory.diagnostics == {"secret": "warning", "link-broken": "off"}


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"memory": {"fileTokenLimit": "lots"}}, "fileTokenLimit"),
        ({"memory": {"fileTokenLimit": -3}}, "fileTokenLimit must be a positive number"),
        ({"sleeptime": {"trigger": "sometimes"}}, "sleeptime.trigger"),
        ({"memory": {"diagnostics": {"secret": "loud"}}}, "memory.diagnostics.secret"),
        ({"model": {"provider": "skynet"}}, "model.provider"),
    ],
)
def test_bad_values_name_the_setting(bad, named):
    with pytest.raises(SettingsError) as err:
        structure_settings(bad)
    assert named in str(err.value)


def test_unknown_keys_are_ignored_not_fatal():
    assert structure_settings({"futureSetting": 1}).memory.fileTokenLimit == 4000
