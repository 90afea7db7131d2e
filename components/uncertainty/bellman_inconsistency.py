"""Config of the ``bellman_inconsistency`` uncertainty (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["BellmanInconsistencyConfig"]


class BellmanInconsistencyConfig(ComponentConfig):
    """MOBILE's model-Bellman inconsistency: the std over members of each member's backup.

    MOBILE (Sun et al. 2023) as written in VIPO App. D Eq. 20:
    U(s, a) = Std_i( gamma * E_{s'_j ~ P^i(s, a), a'_j ~ pi(s'_j)} [min_k Qbar_k(s'_j, a'_j)] ),
    the expectation estimated with ``samples`` next states per member. As in Eq. 20 the
    backup has neither the predicted reward nor a (1 - done) factor.
    Why ``members: elites`` (default): MOBILE's code (OfflineRL-Kit's ``sample_next_obss``)
    samples the next states from the elite members only, so the std runs over the 5 elites
    of the 7; ``all`` (every member) is kept as an option. Std is the sample std over members
    (Bessel-corrected, ``unbiased``), as torch's and the reference's default.
    Why ``chunk_rows``: the E x N x B sample rows go through the policy and the critics in
    chunks of whole model rows; each row's backups are computed from the same draws whatever
    the chunking, only the order of the policy's noise draws changes.
    """

    kind: ClassVar[str] = "uncertainty"

    type: Literal["bellman_inconsistency"] = "bellman_inconsistency"
    samples: int = Field(10, gt=0, description="next states N drawn per member (MOBILE: 10)")
    members: Literal["all", "elites"] = Field(
        "elites", description="ensemble members whose backups enter the std (MOBILE code: elites)"
    )
    unbiased: bool = Field(True, description="Bessel-corrected std over members")
    chunk_rows: int = Field(
        2240,
        gt=0,
        description="sample rows (members x samples x model rows) per policy/critic pass; "
        "small chunks keep activations in cache (faster on CPU), same backups",
    )

    def build(self, ctx: Any) -> Any:
        """Make the uncertainty estimator."""
        from components.uncertainty._bellman_inconsistency import BellmanInconsistency

        return BellmanInconsistency(self, ctx)
