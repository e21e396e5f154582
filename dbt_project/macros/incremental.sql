{#- Incremental builds (docs/orchestration.md). Every row an incremental model writes carries
    built_at, the start of the dbt invocation that wrote it; a model's changes since its own
    last build are its parents' rows with a later built_at than its own newest. A build that
    rewrote nothing leaves its watermark where it was, so nothing is ever missed: the same
    changes are merely looked at again. -#}

{#- When this build started (UTC), the built_at of every row it writes. -#}
{% macro paw_built_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The newest built_at this model has written: its parents' rows built later are its work. -#}
{% macro paw_watermark() -%}
    (select coalesce(max(built.built_at), timestamp '1970-01-01') from {{ this }} as built)
{%- endmacro %}

{#- The persons whose activity changed since this model's last build, and from when: a new or
    re-attributed activity event changes its person (and the person it left) from its time on.
    The one home of this rule for the person-keyed incremental models. -#}
{% macro paw_changed_persons(attributed_relation, previous_relation) -%}
    select
        changes.person_id,
        min(changes.event_timestamp) as changed_from
    from (
        select changed.person_id, changed.event_timestamp
        from {{ attributed_relation }} as changed
        where changed.built_at > {{ paw_watermark() }}
        union all
        select previous.person_id, changed.event_timestamp
        from {{ attributed_relation }} as changed
        inner join {{ previous_relation }} as previous on changed.event_id = previous.event_id
        where changed.built_at > {{ paw_watermark() }}
    ) as changes
    group by changes.person_id
{%- endmacro %}
