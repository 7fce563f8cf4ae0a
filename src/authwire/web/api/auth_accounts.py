"""/api/v1/applications/{application_id}/auth-accounts"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from authwire.accounts import service
from authwire.accounts.kinds import AccountKind, AccountStatus
from authwire.accounts.schemas import (
    AuthAccountCreate,
    AuthAccountOut,
    AuthAccountUpdate,
    AuthorizationStarted,
)
from authwire.applications import administered_application
from authwire.errors import (
    AccountUnavailableError,
    TokenEndpointError,
)
from authwire.oauth.flow import start_authorization
from authwire.runtime import Runtime
from authwire.tokens.revocation import (
    RevocationOut,
    Revoker,
    delete_account,
    revoke_account,
)
from authwire.web.api.ids import AccountId, ApplicationId
from authwire.web.deps import RuntimeDep, SessionDep, UserDep

router = APIRouter(
    prefix="/applications/{application_id}/auth-accounts", tags=["auth accounts"]
)


class AuthAccountList(BaseModel):
    items: list[AuthAccountOut]


@router.get("", response_model=AuthAccountList)
async def list_auth_accounts(
    application_id: ApplicationId,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> AuthAccountList:
    await administered_application(session, user, application_id)
    accounts = await service.list_accounts(session, application_id)
    return AuthAccountList(
        items=[
            service.account_out(a, runtime.settings, runtime.keyring) for a in accounts
        ]
    )


@router.post("", response_model=AuthAccountOut, status_code=201)
async def create_auth_account(
    application_id: ApplicationId,
    data: AuthAccountCreate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> AuthAccountOut:
    await administered_application(session, user, application_id)
    account = await service.create_account(
        session,
        runtime.keyring,
        runtime.settings,
        application_id,
        data,
        discoverer=runtime.discover,
    )
    await session.commit()
    await session.refresh(account)
    return service.account_out(account, runtime.settings, runtime.keyring)


@router.get("/{account_id}", response_model=AuthAccountOut)
async def get_auth_account(
    application_id: ApplicationId,
    account_id: AccountId,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> AuthAccountOut:
    await administered_application(session, user, application_id)
    account = await service.get_account(session, application_id, account_id)
    return service.account_out(account, runtime.settings, runtime.keyring)


@router.patch("/{account_id}", response_model=AuthAccountOut)
async def update_auth_account(
    application_id: ApplicationId,
    account_id: AccountId,
    data: AuthAccountUpdate,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> AuthAccountOut:
    await administered_application(session, user, application_id)
    account = await service.get_account(session, application_id, account_id)
    await service.update_account(
        session,
        runtime.keyring,
        runtime.settings,
        account,
        data,
        discoverer=runtime.discover,
    )
    await session.commit()
    await session.refresh(account)
    return service.account_out(account, runtime.settings, runtime.keyring)


class AccountDeleted(BaseModel):
    deleted: bool
    revocation: RevocationOut


@router.delete("/{account_id}", response_model=AccountDeleted)
async def delete_auth_account(
    application_id: ApplicationId,
    account_id: AccountId,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> AccountDeleted:
    """Delete the account, revoking its grant at the provider first where the
    provider has a revocation endpoint. The account is deleted even when the
    revocation fails; `revocation` says what happened."""
    await administered_application(session, user, application_id)
    account = await service.get_account(session, application_id, account_id)
    revocation = await delete_account(session, _revoker(runtime), account)
    await session.commit()
    return AccountDeleted(deleted=True, revocation=revocation)


@router.post("/{account_id}/revocation", response_model=RevocationOut)
async def revoke_auth_account(
    application_id: ApplicationId,
    account_id: AccountId,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> RevocationOut:
    """Revoke the grant at the provider and forget the tokens; the account
    stays, not authorized, until Generate. When the provider cannot be
    reached, nothing changes and the error says so."""
    await administered_application(session, user, application_id)
    account = await service.get_account(session, application_id, account_id)
    revocation = await revoke_account(session, _revoker(runtime), account)
    await session.commit()
    return revocation


def _revoker(runtime: Runtime) -> Revoker:
    return Revoker(runtime.keyring, runtime.token_endpoint)


@router.post(
    "/{account_id}/authorization",
    response_model=AuthorizationStarted,
    status_code=201,
    summary="Generate: start the authorization-code flow",
)
async def start_account_authorization(
    application_id: ApplicationId,
    account_id: AccountId,
    session: SessionDep,
    user: UserDep,
    runtime: RuntimeDep,
) -> AuthorizationStarted:
    """Returns the provider's authorization URL. Open it in a browser, sign in
    with a user who may perform the calls, and consent; the provider sends the
    browser back to Authwire, which stores the tokens."""
    await administered_application(session, user, application_id)
    account = await service.get_account(session, application_id, account_id)
    if account.kind == AccountKind.OAUTH2_CLIENT_CREDENTIALS:
        await session.close()
        try:
            await runtime.keeper.generate_client_credentials(account.id)
        except AccountUnavailableError as exc:
            # Not a 401: that would read as "your API token is bad".
            raise TokenEndpointError(
                exc.message, error=exc.code, description=None
            ) from exc
        return AuthorizationStarted(
            authorization_url=None,
            expires_at=None,
            redirect_uri=None,
            status=AccountStatus.AUTHORIZED,
            message="The token endpoint issued an access token for the client "
            "credentials; the account is authorized.",
        )
    started = await start_authorization(session, runtime, account, user)
    await session.commit()
    return AuthorizationStarted(
        authorization_url=started.url,
        expires_at=started.expires_at,
        redirect_uri=runtime.settings.redirect_uri,
        status=AccountStatus(account.status),
        message="Open authorization_url in a browser, sign in with a user who "
        "may perform the calls, and consent.",
    )
