"""Experiments: plan an A/B test, read it, keep it, and turn outcomes into evidence.

The package is layered bottom-up; each module imports only those above it in this list:

``args``        the argument types (each ``Literal`` written once) and the one model of the
                ``design_ab_test`` arguments (:class:`~kpi_core.experiments.args.DesignArgs`)
``checks``      argument checks that raise :class:`~kpi_core.errors.ExperimentError` in our words
``statistics``  distributions, and the statistic and test types the analysis is built from
``design``      :func:`~kpi_core.experiments.design.design_ab_test`
``analysis``    :func:`~kpi_core.experiments.analysis.analyze_ab_test`
``evidence``    recorded outcomes -> lifts -> one blended range per intervention
``plans``       the store's models and the checks of a registered plan
``store``       :class:`~kpi_core.experiments.store.ExperimentStore`, one SQLite file

Nothing here imports the advice modules (``diagnose``, ``recommend``): ``recommend`` takes the
evidence as plain figures. This ``__init__`` imports nothing, so ``kpi_core.interventions`` can
import the low ``args`` module without loading the rest.
"""
