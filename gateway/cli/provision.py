"""Create a complete set of identities in one step: two root keys, offices, a co-signed directory.

Used by the demo, the tests, the vectors and a development setup. A real
deployment runs the same steps as separate key ceremonies on each side
(``blo-gateway keys ...`` / ``blo-gateway directory ...``; see deploy/KEYS.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import nacl.utils

from gateway.protocol.identity import (
    Directory,
    Keyring,
    Random,
    RootSigner,
    TrustRoots,
    build_directory,
    office_to_json,
    sign_directory,
)
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD

__all__ = ["BORDER_OFFICES", "DEFAULT_OFFICES", "Network", "OfficeSpec", "cosigned_directory",
           "provision"]

YEAR_MS = 365 * 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class OfficeSpec:
    office_id: str
    country: str
    name_vi: str
    name_zh: str
    role: str
    #: IANA zone for the directory entry; empty: the country's (gateway.protocol.localtime)
    time_zone: str = ""


DEFAULT_OFFICES = (
    OfficeSpec(LAOCAI, "VN", "Văn phòng liên lạc qua biên giới Lào Cai",
               "老街边境联络官办公室", "liaison_office"),
    OfficeSpec(HEKOU, "CN", "Văn phòng liên lạc qua biên giới Hà Khẩu",
               "河口边境联络官办公室", "liaison_office"),
    OfficeSpec(LAOCAI_BORDER_GUARD, "VN", "Đồn Biên phòng cửa khẩu quốc tế Lào Cai",
               "老街国际口岸边防站", "border_guard"),
)


# Twenty offices along the border, for the federation bench and the tests at that size:
# the scenario's three, and invented liaison offices and Border Guard posts named after
# places on both sides (place names only; the ids follow the scenario's).
_VN = [("vn.hagiang.blo", "Hà Giang", "河江"), ("vn.laichau.blo", "Lai Châu", "莱州"),
       ("vn.dienbien.blo", "Điện Biên", "奠边"), ("vn.caobang.blo", "Cao Bằng", "高平"),
       ("vn.langson.blo", "Lạng Sơn", "谅山"), ("vn.quangninh.blo", "Quảng Ninh", "广宁"),
       ("vn.langson.bdbp.huunghi", "Hữu Nghị", "友谊"),
       ("vn.quangninh.bdbp.mongcai", "Móng Cái", "芒街")]
_CN = [("cn.yunnan.maguan.blo", "Mã Quan", "马关"), ("cn.yunnan.jinping.blo", "Kim Bình", "金平"),
       ("cn.yunnan.malipo.blo", "Ma Lật Pha", "麻栗坡"),
       ("cn.yunnan.jiangcheng.blo", "Giang Thành", "江城"),
       ("cn.guangxi.pingxiang.blo", "Bằng Tường", "凭祥"),
       ("cn.guangxi.dongxing.blo", "Đông Hưng", "东兴"), ("cn.guangxi.napo.blo", "Na Pha", "那坡"),
       ("cn.guangxi.longzhou.blo", "Long Châu", "龙州"),
       ("cn.guangxi.ningming.blo", "Ninh Minh", "宁明")]


def _border_office(office_id: str, vi: str, zh: str) -> OfficeSpec:
    if ".bdbp." in office_id:
        return OfficeSpec(office_id, "VN", f"Đồn Biên phòng cửa khẩu {vi}", f"{zh}口岸边防站",
                          "border_guard")
    return OfficeSpec(office_id, office_id[:2].upper(),
                      f"Văn phòng liên lạc qua biên giới {vi}", f"{zh}边境联络官办公室",
                      "liaison_office")


BORDER_OFFICES = (
    DEFAULT_OFFICES[0], *(_border_office(*o) for o in _VN[:6]), DEFAULT_OFFICES[2],
    *(_border_office(*o) for o in _VN[6:]), DEFAULT_OFFICES[1],
    *(_border_office(*o) for o in _CN))


@dataclass(frozen=True)
class Network:
    roots: TrustRoots
    root_signers: tuple[RootSigner, RootSigner]
    keyrings: dict[str, Keyring]
    directory_bytes: bytes
    now_ms: int

    def directory(self) -> Directory:
        return Directory.verify(self.directory_bytes, self.roots, now_ms=self.now_ms)

    def write(self, folder: Path) -> None:
        """Public files to ``folder``; private keys to ``folder/private`` (0600)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "roots.json").write_text(self.roots.to_json(), encoding="utf-8")
        (folder / "directory.bin").write_bytes(self.directory_bytes)
        for office_id, ring in self.keyrings.items():
            ring.save(folder / "private" / f"{office_id}.keyring.json")
        for signer in self.root_signers:
            signer.save(folder / "private" / f"root-{signer.country.lower()}.key.json")


def provision(now_ms: int, *, offices: Sequence[OfficeSpec] = DEFAULT_OFFICES,
              endpoints: dict[str, str] | None = None, serial: int = 1,
              rng: Random = nacl.utils.random,
              post_quantum: bool | Collection[str] = False,
              hybrid_roots: bool | None = None) -> Network:
    """Fresh keys for every office and both roots, and a directory both roots signed.

    ``post_quantum``: True for suite-2 keys (ML-DSA-65, ML-KEM-768 + X25519) in every
    office's keyring, or the office ids that get them; the directory then lists those
    offices with ``suites: [1, 2]`` (docs/wire-format.md §14). When every office is on
    suite 2 the roots are hybrid too (Ed25519 + ML-DSA-65, §3); when only some are, the
    roots are Ed25519-only. ``hybrid_roots`` overrides that choice (the test vectors made
    before hybrid roots existed keep Ed25519 roots with ``False``)."""
    pq = {o.office_id for o in offices} if post_quantum is True else set(post_quantum or ())
    hybrid = (bool(offices) and pq >= {o.office_id for o in offices}
              if hybrid_roots is None else hybrid_roots)
    vn = RootSigner.generate("VN", rng, post_quantum=hybrid)
    cn = RootSigner.generate("CN", rng, post_quantum=hybrid)
    roots = TrustRoots((vn.root_key("Khóa gốc Việt Nam", "越南根密钥"),
                        cn.root_key("Khóa gốc Trung Quốc", "中国根密钥")))
    keyrings = {o.office_id: Keyring.generate(o.office_id, now_ms=now_ms - DAY_MS,
                                              valid_ms=YEAR_MS, rng=rng,
                                              post_quantum=o.office_id in pq)
                for o in offices}
    signed = cosigned_directory(keyrings, (vn, cn), offices, endpoints or {}, serial=serial,
                                now_ms=now_ms)
    return Network(roots, (vn, cn), keyrings, signed, now_ms)


def cosigned_directory(keyrings: dict[str, Keyring], signers: Sequence[RootSigner],
                       offices: Sequence[OfficeSpec], endpoints: dict[str, str], *,
                       serial: int, now_ms: int) -> bytes:
    """A directory of ``offices`` (their keyrings' current public keys), valid for a year
    from yesterday, signed by every one of ``signers``."""
    entries = [keyrings[o.office_id].public_office(
        country=o.country, name_vi=o.name_vi, name_zh=o.name_zh, role=o.role,
        endpoint=endpoints.get(o.office_id, ""), time_zone=o.time_zone) for o in offices]
    signed = build_directory(entries, serial=serial, issued_at_ms=now_ms - DAY_MS,
                             expires_at_ms=now_ms + YEAR_MS)
    for signer in signers:
        signed = sign_directory(signed, signer)
    return signed


def office_json(network: Network, office_id: str) -> str:
    """The public office entry, as ``keys create`` writes it."""
    d = network.directory()
    o = d.office(office_id)
    ring = network.keyrings[office_id]
    return office_to_json(ring.public_office(country=o.country, name_vi=o.name_vi,
                                             name_zh=o.name_zh, role=o.role,
                                             endpoint=o.endpoint, time_zone=o.time_zone))
