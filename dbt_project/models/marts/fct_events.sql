with

sessionized as (
    select * from {{ ref('int_sessionized_activity') }}
),

final as (
    select
        event_id,
        person_id,
        session_id,
        event_timestamp,
        event_date,
        event_name,
        event_type,
        namespace,
        user_id,
        anonymous_id,
        properties,
        page_path,
        page_url,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        device_type,
        os_name,
        browser_name
    from sessionized
)

select * from final
