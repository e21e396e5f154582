{#- Chunked tables: a model configured `paw_chunked=true` is written in chunks of persons when
    its largest input holds more than paw_chunk_rows() rows, one INSERT a chunk: its full build,
    and the temporary table of its incremental build (at 100M events, the persons a new day
    changes hold tens of millions of rows).
    Its SQL reads its person-keyed inputs through paw_in_chunk (each person's rows depend only
    on that person's inputs), so each chunk's windows, joins and sorts hold a slice of the data
    and memory stays within paw_duckdb_memory_limit, whatever the data's size. At 91M events,
    int_path_nodes and int_funnel_chains exceeded 2 GB built whole, and fct_events' sort by
    person spilled more than the 46 GB of free disk (docs/orchestration.md). Below that size a
    table is one chunk: one statement, as before.

    `paw_order_by` (a list of columns) stores a table in that order, chunk by chunk: a person
    lives in one chunk, so DuckDB's per-row-group min/max still lets a query of one person read
    a few row groups (fct_events: a person's timeline).

    dbt-duckdb's create_table_as builds every table and the temporary table of an incremental
    build; this version builds the chunked and ordered ones and hands every other to
    dbt-duckdb's. -#}
{% macro duckdb__create_table_as(
    temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none
) -%}
    {%- set chunked = config.get('paw_chunked') or config.get('paw_order_by') -%}
    {%- if language == 'sql' and chunked and not partitioned_by and not sorted_by -%}
        {{ paw_create_table_in_chunks(temporary, relation, compiled_code) }}
    {%- else -%}
        {{ dbt.duckdb__create_table_as(
            temporary, relation, compiled_code, language, partitioned_by, sorted_by
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- True for the rows of the chunk being built (all rows outside a chunked build): a hash of
    the person picks the chunk. DuckDB variables carry the chunk, so the SQL is compiled once.
    Written so that DuckDB folds the variables into constants: wrapped in coalesce() they are
    read again for every row, 100 times slower. -#}
{% macro paw_in_chunk(person_column) -%}
    (
        getvariable('paw_chunks') is null
        or hash({{ person_column }}) % getvariable('paw_chunks') = getvariable('paw_chunk')
    )
{%- endmacro %}

{% macro paw_create_table_in_chunks(temporary, relation, compiled_code) -%}
    {%- set order_by = config.get('paw_order_by') -%}
    {%- set enforced = config.get('contract').enforced and not temporary -%}
    {%- set chunks = paw_chunk_count() -%}
    {%- if chunks > 1 and "getvariable('paw_chunk')" not in compiled_code -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ " is built in " ~ chunks ~ " chunks (paw_chunked) but reads no input"
            ~ " through paw_in_chunk: every chunk would hold every row"
        ) -%}
    {%- endif -%}
    {%- if enforced -%}
        {{ get_assert_columns_equivalent(compiled_code) }}
    {%- endif -%}
    {%- set table = relation.include(database=(not temporary), schema=(not temporary)) -%}
    create {% if temporary -%}temporary{%- endif %} table {{ table }}
    {% if enforced -%}
        {{ get_table_columns_and_constraints() }};
    {%- else -%}
        as select * from ({{ compiled_code }}) as model_subq limit 0;
    {%- endif %}
    set variable paw_chunks = {{ chunks }};
    {% for chunk in range(chunks) %}
        set variable paw_chunk = {{ chunk }};
        insert into {{ table }} {{ get_column_names() if enforced }} (
            select * from (
                {{ compiled_code }}
            ) as model_subq
            {% if order_by and not temporary -%}
                order by {{ order_by | join(', ') }}
            {%- endif %}
        );
    {% endfor %}
    reset variable paw_chunks;
    reset variable paw_chunk;
{%- endmacro %}

{#- How many chunks the model being built is written in: the rows it reads over
    paw_chunk_rows(), at least one. A full build reads up to its largest input's rows (DuckDB's
    estimate, from the catalog). An incremental build that replaces whole persons
    (paw_replace_persons: their whole history) reads their rows alone: the changed persons'
    rows of its largest input with a person_id, counted when the whole input would need more
    than one chunk. Each chunk reads every input again, so a chunk a night costs a pass over the
    history (measured in docs/orchestration.md). The other incremental builds read the rows
    their parents wrote since the model's own last build (built_at), and the few rows around
    them: at 10M events a new day is 940,000 of 9.8M, one chunk where the inputs' size made
    two, each of which scanned every event id again. -#}
{% macro paw_chunk_count() -%}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set inputs = [] -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) -%}
        {%- if node is not none and node.resource_type in ('model', 'seed') -%}
            {%- do inputs.append("('" ~ node.schema ~ "', '" ~ node.alias ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not inputs -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set chunk_rows = paw_chunk_rows() -%}
    {%- set replaces_persons = config.get('incremental_strategy') == 'paw_replace_persons' -%}
    {%- if is_incremental() and not replaces_persons -%}
        {%- set rows = paw_rows_built_since_watermark(inputs) -%}
    {%- else -%}
        {%- set rows = run_query(
            "select coalesce(max(estimated_size), 0) from duckdb_tables() "
            ~ "where database_name = current_database() and (schema_name, table_name) in ("
            ~ inputs | join(', ') ~ ")"
        ).columns[0].values()[0] -%}
        {%- if is_incremental() and rows > chunk_rows -%}
            {%- set rows = paw_rows_of_changed_persons(inputs) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return([1, ((rows + chunk_rows - 1) // chunk_rows) | int] | max) }}
{%- endmacro %}

{#- The rows of the persons an incremental build replaces (paw_changed_persons, with the
    model's paw_activity_only) in the largest of `inputs` ((schema, table) literals) that has a
    person_id column: a pass over that input's person ids. -#}
{% macro paw_rows_of_changed_persons(inputs) -%}
    {%- set largest = run_query(
        "select tables.schema_name, tables.table_name from duckdb_tables() as tables "
        ~ "inner join duckdb_columns() as columns on columns.database_name = tables.database_name "
        ~ "and columns.schema_name = tables.schema_name "
        ~ "and columns.table_name = tables.table_name and columns.column_name = 'person_id' "
        ~ "where tables.database_name = current_database() "
        ~ "and (tables.schema_name, tables.table_name) in (" ~ inputs | join(', ') ~ ") "
        ~ "order by tables.estimated_size desc limit 1"
    ) -%}
    {%- if largest.rows | length == 0 -%}
        {%- do exceptions.raise_compiler_error(
            model.name ~ " replaces persons (paw_replace_persons) but none of its inputs has a"
            ~ " person_id column to size its chunks by"
        ) -%}
    {%- endif -%}
    {%- set input = adapter.quote(largest.rows[0][0]) ~ "." ~ adapter.quote(largest.rows[0][1]) -%}
    {{ return(run_query(
        "select count(*) from " ~ input ~ " as person_rows where person_rows.person_id in ("
        ~ "select changed_persons.person_id from ("
        ~ paw_changed_persons(config.get('paw_activity_only', true)) ~ ") as changed_persons)"
    ).columns[0].values()[0]) }}
{%- endmacro %}

{#- The most rows one of `inputs` ((schema, table) literals) wrote after this model's
    watermark (macros/incremental.sql): the inputs with a built_at column. -#}
{% macro paw_rows_built_since_watermark(inputs) -%}
    {%- set stamped = run_query(
        "select schema_name, table_name from duckdb_columns() "
        ~ "where database_name = current_database() and column_name = 'built_at' "
        ~ "and (schema_name, table_name) in (" ~ inputs | join(', ') ~ ")"
    ) -%}
    {%- if stamped.rows | length == 0 -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set counts = [] -%}
    {%- for input in stamped.rows -%}
        {%- do counts.append(
            "select count(*) as built_rows from " ~ adapter.quote(input[0]) ~ "."
            ~ adapter.quote(input[1]) ~ " as built where built.built_at > " ~ paw_watermark()
        ) -%}
    {%- endfor -%}
    {{ return(run_query(
        "select max(built_rows) from (" ~ counts | join(' union all ') ~ ")"
    ).columns[0].values()[0]) }}
{%- endmacro %}

{#- The rows a chunk holds: var paw_chunk_rows when set, else one row per paw_chunk_row_bytes
    (a model's config; 400 unless set) of the build's memory limit (paw_duckdb_memory_bytes, from
    PAW_BUILD_MEMORY_LIMIT): 5,000,000 at the default 2GB, with which the 100M build's chunked
    models fit; at 10M events under 250MB the nightly needed chunks of about 600,000 rows, a
    tenth, as this gives. A model whose rows take less memory sets fewer bytes: fewer chunks,
    each of which reads its inputs again. -#}
{% macro paw_chunk_rows() -%}
    {%- set configured = var('paw_chunk_rows', none) -%}
    {%- if configured is not none -%}
        {{ return(configured | int) }}
    {%- endif -%}
    {%- set row_bytes = config.get('paw_chunk_row_bytes') or 400 -%}
    {{ return([1, (var('paw_duckdb_memory_bytes') | int) // row_bytes] | max) }}
{%- endmacro %}
