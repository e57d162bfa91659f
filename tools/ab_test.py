"""`design_ab_test` and `analyze_ab_test`: plan an experiment, then read its outcome."""

from typing import Annotated, Literal

from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field, SkipValidation

from kpi_core.abtest import AbTestAnalysis, AbTestDesign, MeanArm, ProportionArm
from kpi_core.abtest import analyze_ab_test as analyze
from kpi_core.abtest import design_ab_test as design
from prompts import render
from tools._config import ServerConfig
from tools._edge import CallControl, ok_result, run_tool

READ_ONLY = ToolAnnotations(
    read_only_hint=True, idempotent_hint=True, destructive_hint=False, open_world_hint=False
)

DESIGN_DESCRIPTION = """Plan a fixed-horizon A/B test: sample size per arm, duration, SRM check.

For a `proportion` (a rate such as conversion_rate, as a fraction: 2% is 0.02) or a `mean` (give
`baseline_sd`). `mde` is the smallest lift worth detecting: relative to the baseline by default
(0.1 = +10%), or absolute with mde_type "absolute". `unit` says what is randomised: "viewer"
(give daily_units for a duration), "creator" (a cohort of creators split between arms; give
baseline_sd between creators and available_units) or "time_block" (a switchback within one
creator: alternating blocks of block_days; baseline_sd between blocks). More than two arms use a
Bonferroni-adjusted alpha; cuped_correlation (0-1) shrinks the variance by 1 - rho^2. The
`ab_test` object of a `recommend` result can be passed here as it is, once its `missing` fields
are filled in. Returns n_per_arm, n_total, duration_days (whole weeks), feasible,
detectable_mde_in_4_weeks, the hypothesis, primary metric, guardrails and the SRM check."""

ANALYZE_DESCRIPTION = """Read an A/B test's outcome: lifts, intervals, p-values, SRM and a decision.

`arms` lists the arms, control first: for a proportion each {name, conversions, units}; for a
mean each {name, mean, sd, n}. Proportions use a pooled two-sided z-test with a Wald interval;
means use Welch's t-test. Several treatment arms are corrected with Holm (default) or Bonferroni.
The sample ratio mismatch (SRM) check compares the units per arm with planned_allocation
(equal by default); an alarm (p < 0.001) means the split is broken: do not trust the result.
Give planned_n_per_arm to be warned when the test is read before it reached its sample size."""


def design_summary(result: AbTestDesign) -> str:
    return render("abtest_design_summary.txt.j2", design=result)


def analysis_summary(result: AbTestAnalysis) -> str:
    return render("abtest_analysis_summary.txt.j2", analysis=result)


def build_design(config: ServerConfig) -> Tool:

    async def design_ab_test(
        metric_kind: Annotated[Literal["proportion", "mean"], SkipValidation],
        baseline: Annotated[
            float, SkipValidation, Field(description="Control rate (0-1) or mean.")
        ],
        mde: Annotated[float, SkipValidation, Field(description="Smallest lift to detect.")],
        baseline_sd: Annotated[
            float | None,
            SkipValidation,
            Field(description="Standard deviation (means; creator and time_block units)."),
        ] = None,
        mde_type: Annotated[Literal["relative", "absolute"], SkipValidation] = "relative",
        alpha: Annotated[float, SkipValidation] = 0.05,
        power: Annotated[float, SkipValidation] = 0.8,
        sides: Annotated[Literal[1, 2], SkipValidation] = 2,
        arms: Annotated[int, SkipValidation, Field(description="Arms including control.")] = 2,
        allocation: Annotated[
            list[float] | None,
            SkipValidation,
            Field(description="Share of units per arm, summing to 1; equal by default."),
        ] = None,
        unit: Annotated[Literal["viewer", "creator", "time_block"], SkipValidation] = "viewer",
        daily_units: Annotated[
            float | None, SkipValidation, Field(description="Units per day across all arms.")
        ] = None,
        available_units: Annotated[
            int | None, SkipValidation, Field(description="Units available in total.")
        ] = None,
        block_days: Annotated[
            int | None, SkipValidation, Field(description="Days per block (time_block).")
        ] = None,
        cuped_correlation: Annotated[
            float | None,
            SkipValidation,
            Field(description="Correlation of the metric with its pre-period value (0-1)."),
        ] = None,
        method: Annotated[
            Literal["pooled", "cohens_h", "evan_miller", "relative_lift"], SkipValidation
        ] = "pooled",
        primary_metric: Annotated[str | None, Field(max_length=64)] = None,
        guardrails: Annotated[list[str] | None, Field(max_length=10)] = None,
        observation_days: Annotated[
            int | None,
            SkipValidation,
            Field(description="Days over which each creator's mean is taken (creator unit)."),
        ] = None,
        missing: Annotated[
            list[str] | None,
            Field(description="Ignored: lets a recommend() ab_test object be passed as it is."),
        ] = None,
    ) -> Annotated[CallToolResult, AbTestDesign]:
        del missing

        def body(_: CallControl) -> CallToolResult:
            result = design(
                metric_kind,
                baseline,
                baseline_sd=baseline_sd,
                mde=mde,
                mde_type=mde_type,
                alpha=alpha,
                power=power,
                sides=sides,
                arms=arms,
                allocation=allocation,
                unit=unit,
                daily_units=daily_units,
                available_units=available_units,
                block_days=block_days,
                cuped_correlation=cuped_correlation,
                method=method,
                primary_metric=primary_metric,
                guardrails=guardrails or (),
                observation_days=observation_days,
            )
            return ok_result(design_summary(result), result)

        return await run_tool("design_ab_test", body, time_limit=config.time_limit)

    return Tool.from_function(
        design_ab_test,
        name="design_ab_test",
        title="Plan an A/B test",
        description=DESIGN_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )


def build_analyze(config: ServerConfig) -> Tool:

    async def analyze_ab_test(
        metric_kind: Annotated[Literal["proportion", "mean"], SkipValidation],
        arms: Annotated[
            list[ProportionArm | MeanArm],
            SkipValidation,
            Field(description="Arms with their results, control first."),
        ],
        correction: Annotated[Literal["holm", "bonferroni", "none"], SkipValidation] = "holm",
        planned_allocation: Annotated[list[float] | None, SkipValidation] = None,
        planned_n_per_arm: Annotated[
            int | list[int] | None,
            SkipValidation,
            Field(description="The design's n_per_arm: one count for every arm, or one per arm."),
        ] = None,
        alpha: Annotated[float, SkipValidation] = 0.05,
    ) -> Annotated[CallToolResult, AbTestAnalysis]:
        def body(_: CallControl) -> CallToolResult:
            result = analyze(
                metric_kind,
                arms,
                correction=correction,
                planned_allocation=planned_allocation,
                planned_n_per_arm=planned_n_per_arm,
                alpha=alpha,
            )
            return ok_result(analysis_summary(result), result)

        return await run_tool("analyze_ab_test", body, time_limit=config.time_limit)

    return Tool.from_function(
        analyze_ab_test,
        name="analyze_ab_test",
        title="Read an A/B test",
        description=ANALYZE_DESCRIPTION,
        annotations=READ_ONLY,
        structured_output=True,
    )
