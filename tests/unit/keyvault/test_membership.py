"""Catalog's project membership statements: exactly one (org, project) pair, only catalog's key."""

from __future__ import annotations

from nacl.signing import SigningKey

from shared.vault.membership import membership_holds, sign_membership

CATALOG = SigningKey.generate()


def test_a_statement_holds_for_its_own_org_and_project_only() -> None:
    """Moving the project to another org, or the org to another project, breaks it."""
    proof = sign_membership(CATALOG, org_id="org_a", project_id="prj_1")
    assert membership_holds(CATALOG.verify_key, proof, org_id="org_a", project_id="prj_1")
    assert not membership_holds(CATALOG.verify_key, proof, org_id="org_b", project_id="prj_1")
    assert not membership_holds(CATALOG.verify_key, proof, org_id="org_a", project_id="prj_2")


def test_a_statement_signed_by_another_key_or_malformed_does_not_hold() -> None:
    """The gateway's key (or anyone's) cannot vouch for membership; garbage is simply refused."""
    forged = sign_membership(SigningKey.generate(), org_id="org_a", project_id="prj_1")
    for proof in (forged, b"", b"\x00" * 64, b"short"):
        assert not membership_holds(CATALOG.verify_key, proof, org_id="org_a", project_id="prj_1")


def test_the_statement_cannot_be_confused_with_an_ambiguous_pair() -> None:
    """The encoding is unambiguous: ("org_a", "b:prj") and ("org_a:b", "prj") are different statements."""
    proof = sign_membership(CATALOG, org_id="org_a", project_id="b:prj")
    assert not membership_holds(CATALOG.verify_key, proof, org_id="org_a:b", project_id="prj")
