with

events as (
    select * from {{ ref('fct_events') }}
),

sessionized as (
    select * from {{ ref('int_sessionized_activity') }}
),

sessions as (
    select
        session_id,
        person_id,
        min(event_timestamp) as session_start,
        max(event_timestamp) as session_end,
        count(*) as event_count,
        count(case when event_name = 'page_viewed' then 1 end) as page_view_count,
        {{ paw_first_by('page_path', ['event_timestamp', 'event_id']) }}
        filter (where event_name in ('page_viewed', 'screen_viewed')) as landing_page,
        {{ paw_last_by('page_path', ['event_timestamp', 'event_id']) }}
        filter (where event_name in ('page_viewed', 'screen_viewed')) as exit_page,
        {{ paw_first_by('referrer', ['event_timestamp', 'event_id']) }} as referrer,
        {{ paw_first_by('utm_source', ['event_timestamp', 'event_id']) }} as utm_source,
        {{ paw_first_by('utm_medium', ['event_timestamp', 'event_id']) }} as utm_medium,
        {{ paw_first_by('utm_campaign', ['event_timestamp', 'event_id']) }} as utm_campaign,
        {{ paw_first_by('device_type', ['event_timestamp', 'event_id']) }} as device_type,
        {{ paw_first_by('os_name', ['event_timestamp', 'event_id']) }} as os_name,
        {{ paw_first_by('browser_name', ['event_timestamp', 'event_id']) }} as browser_name
    from events
    group by session_id, person_id
),

session_numbers as (
    select
        session_id,
        session_number
    from sessionized
    where is_session_start
),

final as (
    select
        sessions.session_id,
        sessions.person_id,
        session_numbers.session_number,
        sessions.session_start,
        sessions.session_end,
        {{ paw_seconds_between('sessions.session_start', 'sessions.session_end') }}
            as duration_seconds,
        sessions.event_count,
        sessions.page_view_count,
        sessions.landing_page,
        sessions.exit_page,
        sessions.referrer,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign,
        sessions.event_count = 1 as is_bounce,
        sessions.device_type,
        sessions.os_name,
        sessions.browser_name
    from sessions
    inner join session_numbers on sessions.session_id = session_numbers.session_id
)

select * from final
