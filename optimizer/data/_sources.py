"""The three supported price sources: their file names, quote currency and date convention."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceSpec:
    """Where one source's data live in a data directory and how its dates are stamped.

    Attributes
    ----------
    name : str
        Source name used in configs and ``PriceData.sources``.
    prices : str
        File name of the wide daily price file.
    volume : str or None
        File name of the wide daily USD 24h volume file, or None when the source has none.
    marketcap : str or None
        File name of the wide daily market-cap file, or None.
    quote : str
        Quote currency of ``prices`` (``"USD"`` or ``"USDT"``).
    date_shift_days : int
        Days to add to the file's dates so that a value is dated by the UTC day whose close it is.
        CoinGecko stamps the 00:00 UTC snapshot of day D, i.e. the close of D-1, hence ``-1``.
    """

    name: str
    prices: str
    volume: str | None
    marketcap: str | None
    quote: str
    date_shift_days: int

    def files(self) -> tuple[str, ...]:
        """Return every file name of the source (prices first)."""
        return tuple(f for f in (self.prices, self.volume, self.marketcap) if f is not None)


#: Supported sources by name. File names and conventions match the wide CSVs written by
#: :func:`optimizer.data.fetch.fetch` and shipped in the shared datasets folder.
SOURCES: dict[str, SourceSpec] = {
    "coinmetrics": SourceSpec(
        name="coinmetrics",
        prices="coinmetrics_prices_daily.csv",
        volume=None,  # Coin Metrics community data has no exchange-volume metric
        marketcap="coinmetrics_marketcap_daily.csv",
        quote="USD",
        date_shift_days=0,
    ),
    "coingecko": SourceSpec(
        name="coingecko",
        prices="coingecko_prices_daily.csv",
        volume="coingecko_volume_daily.csv",
        marketcap="coingecko_marketcap_daily.csv",
        quote="USD",
        date_shift_days=-1,
    ),
    "binance": SourceSpec(
        name="binance",
        prices="binance_prices_daily.csv",
        volume=None,
        marketcap=None,
        quote="USDT",
        date_shift_days=0,
    ),
}

#: Source of the USD 24h volumes returned by ``load_prices(..., with_volumes=True)``.
VOLUME_SOURCE = "coingecko"

#: Pegged assets of the shared files; ``riskopt data check`` scans them for depegs by default.
KNOWN_STABLECOINS: tuple[str, ...] = (
    "usdc", "usdt", "dai", "frax", "busd", "tusd", "pax", "gusd", "sai", "lusd", "fdusd",
)  # fmt: skip


def file_role(file_name: str) -> str:
    """Return ``"prices"``, ``"volume"`` or ``"marketcap"`` for a data file name.

    Known source files are matched exactly; other names by their wording, defaulting to prices.
    """
    for spec in SOURCES.values():
        if file_name == spec.volume:
            return "volume"
        if file_name == spec.marketcap:
            return "marketcap"
    lowered = file_name.lower()
    if "volume" in lowered:
        return "volume"
    if "marketcap" in lowered or "market_cap" in lowered:
        return "marketcap"
    return "prices"
