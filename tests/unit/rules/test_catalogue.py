from schemas.alerts import RULE_ALERT_TYPES
from streams.rules.catalogue import all_rules


def test_every_alert_type_has_exactly_one_rule() -> None:
    raised = [t for rule in all_rules() for t in rule.alert_types]
    assert sorted(raised) == sorted(RULE_ALERT_TYPES)


def test_rule_names_are_unique_and_defaults_validate() -> None:
    rules = all_rules()
    assert len({r.name for r in rules}) == len(rules)
    for rule in rules:
        assert rule.Config().enabled
