{#- Activity (track, page and screen events) with its person and the commonly used context
    fields as columns. -#}
with

events as (
    select * from {{ ref('stg_events') }}
),

attributed as (
    select * from {{ ref('int_events_attributed') }}
),

final as (
    select
        events.event_id,
        attributed.person_id,
        events.event_timestamp,
        events.event_date,
        events.event_name,
        events.event_type,
        events.namespace,
        events.user_id,
        events.anonymous_id,
        events.properties,
        coalesce(
            {{ paw_json_text('events.properties', '$.path') }},
            {{ paw_json_text('events.context', '$.page.path') }}
        ) as page_path,
        coalesce(
            {{ paw_json_text('events.properties', '$.url') }},
            {{ paw_json_text('events.context', '$.page.url') }}
        ) as page_url,
        nullif(coalesce(
            {{ paw_json_text('events.properties', '$.referrer') }},
            {{ paw_json_text('events.context', '$.page.referrer') }}
        ), '') as referrer,
        {{ paw_json_text('events.context', '$.campaign.source') }} as utm_source,
        {{ paw_json_text('events.context', '$.campaign.medium') }} as utm_medium,
        {{ paw_json_text('events.context', '$.campaign.name') }} as utm_campaign,
        {{ paw_json_text('events.context', '$.device.type') }} as device_type,
        {{ paw_json_text('events.context', '$.os.name') }} as os_name,
        {{ paw_json_text('events.context', '$.browser.name') }} as browser_name
    from events
    inner join attributed on events.event_id = attributed.event_id
    where events.is_activity
)

select * from final
