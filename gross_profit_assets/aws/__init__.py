"""The AWS deployment (``GROSS_PROFIT_DEPLOYMENT=aws``): adapters of the same ports as the
local ones, over S3, the Glue crawler and Data Catalog, Lake Formation and EMR."""
