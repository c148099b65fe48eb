"""The account pages: register, log in and out, passwords (change and emailed reset),
profile and addresses, erasing the account (``/account/erase``, ``DELETE /api/account``:
the kernel's ``erase_user``), the JSON login, and ``mercato user create``.

Settings: ``mercato.accounts.bcrypt_rounds`` (12) and ``mercato.accounts.reset_token_ttl``
(3600 seconds). Users, passwords and reset tokens are the kernel's; who is logged in
is ``mercato.security``.
"""
