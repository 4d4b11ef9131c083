"""The partitioning of every stage: the billing month (the month of ``bill_date``)."""

import dagster as dg

from gross_profit_assets.contract import PARTITION_KEY

billing_months = dg.DynamicPartitionsDefinition(name=PARTITION_KEY)
