"""Between-area variation in emergency admissions, from open data: how much of the spread between
places is a place's own trend, and how much is one-off steps in what is counted.

The data (data/ae_type1_admissions.csv; source and caveats in data/calibration.yaml): emergency
admissions through A&E at each type 1 provider, 2016/17 to 2018/19. If a provider's admissions
follow its own trend plus one-off steps that stay (a random walk), then its growth in one year and
the next share only the trend: their covariance across providers is the trend's variance, and the
rest of each year's variance is the steps'. Each year's growth is winsorised at its 5th and 95th
percentiles first, so that a merger or a closed department does not set the figure alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.catalogue import DATA_DIR

DATA = DATA_DIR / "ae_type1_admissions.csv"
WINSOR = (0.05, 0.95)
Z90 = 1.2816  # the 90th percentile of a standard normal: an 80% interval is +/- this many sds


@dataclass(frozen=True)
class BetweenArea:
    providers: int
    growth_p10: float  # yearly growth, both years pooled (fractions)
    growth_p50: float
    growth_p90: float
    correlation: float  # of one year's growth with the next's, across providers
    trend_sd: float  # the spread of providers' own yearly trends
    step_sd: float  # the spread of one-off yearly steps that do not persist

    @property
    def trend_share(self) -> float:
        """Share of the spread of yearly growth that is providers' own trend (the rest is steps)."""
        return self.trend_sd**2 / (self.trend_sd**2 + self.step_sd**2)


def yearly_growth() -> pd.DataFrame:
    """Each provider's growth in 2017/18 and 2018/19 (fractions)."""
    a = pd.read_csv(DATA)
    return pd.DataFrame(
        {
            "org_code": a["org_code"],
            "growth_2017_18": a["admissions_2017_18"] / a["admissions_2016_17"] - 1,
            "growth_2018_19": a["admissions_2018_19"] / a["admissions_2017_18"] - 1,
            "two_year_yearly": (a["admissions_2018_19"] / a["admissions_2016_17"]) ** 0.5 - 1,
        }
    )


def between_area() -> BetweenArea:
    g = yearly_growth()
    first, second = (g[c].clip(g[c].quantile(WINSOR[0]), g[c].quantile(WINSOR[1])) for c in ("growth_2017_18", "growth_2018_19"))
    covariance = float(np.cov(first, second)[0, 1])
    variance = float((first.var() + second.var()) / 2)
    trend_var = max(covariance, 0.0)
    pooled = pd.concat([g["growth_2017_18"], g["growth_2018_19"]])
    p10, p50, p90 = (float(v) for v in pooled.quantile([0.1, 0.5, 0.9]))
    return BetweenArea(
        providers=len(g),
        growth_p10=p10,
        growth_p50=p50,
        growth_p90=p90,
        correlation=float(np.corrcoef(first, second)[0, 1]),
        trend_sd=trend_var**0.5,
        step_sd=max(variance - trend_var, 0.0) ** 0.5,
    )
