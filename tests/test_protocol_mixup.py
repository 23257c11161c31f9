"""`protocol 'native'` at an HTTP port, or `protocol 'http'` at a native
port, fails with an error whose hint names the mix-up (not "Unexpected
packet"), against the devserver's two ports."""

from __future__ import annotations

import psycopg
import pytest


@pytest.mark.parametrize("protocol,which,word", [("native", "http_port", "HTTP port"),
                                                   ("http", "tcp_port", "native port")])
def test_protocol_at_the_other_port_names_the_mixup(pg, devserver, protocol, which, word):
    port = getattr(devserver, which)
    if port is None:
        pytest.skip("this devserver serves no native port")
    name = f"mixup_{protocol}"
    pg.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER ch_fdw OPTIONS "
               f"(host '127.0.0.1', port '{port}', protocol '{protocol}', connect_timeout '5')")
    try:
        pg.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name}")
        pg.execute(f"CREATE FOREIGN TABLE {name}_t (id bigint) SERVER {name}")
        with pytest.raises(psycopg.Error) as e:
            pg.execute(f"SELECT * FROM {name}_t")
        assert e.value.diag.sqlstate == "08001", e.value
        assert word in (e.value.diag.message_hint or ""), e.value.diag.message_hint
        assert "Unexpected packet" not in e.value.diag.message_primary
        assert pg.execute("SELECT 1").fetchone() == (1,)   # the backend goes on
    finally:
        pg.execute(f"DROP SERVER {name} CASCADE")
