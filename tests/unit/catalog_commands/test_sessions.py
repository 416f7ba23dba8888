"""Console sign-in through catalog's store: first password, sign-in, lockout, revocation."""

from __future__ import annotations

import secrets

import pytest

from catalog.service import Catalog
from catalog.sessions import MAX_FAILURES, ConsoleAuth
from shared.errors import KeyrelayError
from shared.messages import catalog as m
from tests.unit.catalog_commands.conftest import World, token_hash

PROOF = "ab" * 32


async def _member_with_password(world: World, email: str = "dev@acme.test") -> tuple[ConsoleAuth, m.MemberPrincipal]:
    hashed = token_hash()
    body = await world.created(
        world.owner, m.CreateMember(email=email, projects={world.project_id: "developer"}, token_hash=hashed)
    )
    auth = ConsoleAuth(world.ctx)
    await auth.set_password(m.SetPassword(token_hash=hashed, salt="0" * 32, proof=PROOF))
    principal = m.MemberPrincipal(
        member_id=body["id"], org_id=world.owner.org_id, email=email, org_role="member", projects=body["projects"]
    )
    return auth, principal


async def test_a_session_authenticates_as_its_member_until_their_roles_change(world: World) -> None:
    auth, dev = await _member_with_password(world)
    session = token_hash()
    started = await auth.start(m.StartSession(email="DEV@acme.test", proof=PROOF, session_hash=session))
    assert started.principal.member_id == dev.member_id
    assert (await Catalog(world.ctx).member(session)).email == "dev@acme.test"
    await world.ok(world.owner, m.UpdateMember(member_id=dev.member_id, projects={}))
    assert await auth.member_for_session(session) is None
    assert await world.store.session(session) is None  # a stale session is deleted


async def test_a_password_is_set_once_per_token(world: World) -> None:
    hashed = token_hash()
    await world.created(world.owner, m.CreateMember(email="dev@acme.test", token_hash=hashed))
    auth = ConsoleAuth(world.ctx)
    await auth.set_password(m.SetPassword(token_hash=hashed, salt="0" * 32, proof=PROOF))
    with pytest.raises(KeyrelayError) as caught:
        await auth.set_password(m.SetPassword(token_hash=hashed, salt="1" * 32, proof=PROOF))
    assert caught.value.code == "conflict"
    assert world.events.actions[-1] == "password.set"


async def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(world: World) -> None:
    auth, _ = await _member_with_password(world)
    for _ in range(MAX_FAILURES):
        with pytest.raises(KeyrelayError) as wrong:
            await auth.start(m.StartSession(email="dev@acme.test", proof="cd" * 32, session_hash=token_hash()))
        assert wrong.value.code == "unauthorized"
    with pytest.raises(KeyrelayError) as locked:
        await auth.start(m.StartSession(email="dev@acme.test", proof=PROOF, session_hash=token_hash()))
    assert locked.value.code == "rate_limited"
    assert world.events.actions.count("session.denied") == MAX_FAILURES


async def test_an_unknown_email_gets_a_stable_decoy_salt(world: World) -> None:
    auth = ConsoleAuth(world.ctx)
    email = f"{secrets.token_hex(4)}@nowhere.test"
    first = await auth.params(m.GetPasswordParams(email=email))
    again = await auth.params(m.GetPasswordParams(email=email.upper()))
    assert first.salt == again.salt
    assert len(first.salt) == 32


async def test_an_ended_session_no_longer_authenticates(world: World) -> None:
    auth, _ = await _member_with_password(world)
    session = token_hash()
    await auth.start(m.StartSession(email="dev@acme.test", proof=PROOF, session_hash=session))
    await auth.end(m.EndSession(session_hash=session))
    with pytest.raises(KeyrelayError) as caught:
        await Catalog(world.ctx).member(session)
    assert caught.value.code == "unauthorized"
