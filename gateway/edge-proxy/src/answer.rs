// PURE: the gateway's rules for what reaches the browser, as gateway/src/sessions/answer.ts
// has them (the lists come from there, in the edge's configuration), and which requests the
// edge may take, as gateway/src/sessions/fast-path.ts decides.
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use regex::Regex;
use url::Url;

/** The lists and patterns of answer.ts and fast-path.ts (edge-config.ts writes them). */
pub struct Rules {
    pub session_url: Regex,
    pub dot_segment: Regex,
    pub own_paths: Vec<String>,
    pub own_prefixes: Vec<String>,
    pub passive_types: Vec<String>,
    pub passive_families: Vec<String>,
    pub plain_headers: Vec<String>,
    pub gateway_x_headers: Vec<String>,
    pub security: Vec<(HeaderName, HeaderValue)>,
}

/** A request the fast path would take: its session, and the path and query to forward. */
pub struct Target<'a> {
    pub session: &'a str,
    /** the path under the session's, and the query (with its `?`) */
    pub rest: &'a str,
}

impl Rules {
    /** fast-path.ts's fastTarget: a session's own URL, not the gateway's routes under it. */
    pub fn target<'a>(&self, path_and_query: &'a str) -> Option<Target<'a>> {
        let m = self.session_url.captures(path_and_query)?;
        let session = m.get(1)?.as_str();
        let path = m.get(2)?.as_str();
        if self.own_paths.iter().any(|p| p == path)
            || self
                .own_prefixes
                .iter()
                .any(|p| path.starts_with(p.as_str()))
            || self.dot_segment.is_match(path)
        {
            return None;
        }
        Some(Target {
            session,
            rest: &path_and_query[m.get(2)?.start()..],
        })
    }

    /** answer.ts's passiveType. */
    pub fn passive_type(&self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if self.passive_types.contains(&essence) {
            return true;
        }
        self.passive_families
            .iter()
            .any(|f| essence.starts_with(f.as_str()) && essence.len() > f.len())
            && !essence.contains("xml")
    }

    /** answer.ts's plainHeader (`name` in lower case, as HeaderName is). */
    pub fn plain_header(&self, name: &str) -> bool {
        self.plain_headers.iter().any(|h| h == name)
            || (name.starts_with("x-") && !self.gateway_x_headers.iter().any(|h| h == name))
    }

    /**
     * answer.ts's sessionAnswer: the headers the browser gets for a session's answer of
     * `status`, or why it gets a 502 instead.
     */
    pub fn answer(
        &self,
        status: u16,
        upstream: &HeaderMap,
        request_path: &str,
    ) -> Result<HeaderMap, &'static str> {
        let mut out = HeaderMap::with_capacity(self.security.len() + upstream.len() + 2);
        for (name, value) in &self.security {
            out.append(name.clone(), value.clone());
        }
        let mut types = upstream.get_all(hyper::header::CONTENT_TYPE).iter();
        match (types.next(), types.next()) {
            (Some(_), Some(_)) => return Err("more than one content type"),
            (None, _) => {
                if status != 304 && status != 204 {
                    out.append(
                        hyper::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    );
                    out.append(
                        hyper::header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("attachment"),
                    );
                }
            }
            (Some(t), None) => {
                if !self.passive_type(t.to_str().map_err(|_| "a content type that is not text")?) {
                    return Err("a content type not served from sessions");
                }
                out.append(hyper::header::CONTENT_TYPE, t.clone());
                let mut dispositions = upstream.get_all(hyper::header::CONTENT_DISPOSITION).iter();
                if let (Some(d), None) = (dispositions.next(), dispositions.next()) {
                    if attachment(d.to_str().unwrap_or("")) {
                        out.append(hyper::header::CONTENT_DISPOSITION, d.clone());
                    }
                }
            }
        }
        let mut locations = upstream.get_all(hyper::header::LOCATION).iter();
        match (locations.next(), locations.next()) {
            (Some(_), Some(_)) => return Err("a redirect out of the session"),
            (Some(l), None) => {
                let within = l.to_str().is_ok_and(|l| within_session(l, request_path));
                if !within {
                    return Err("a redirect out of the session");
                }
                out.append(hyper::header::LOCATION, l.clone());
            }
            (None, _) => {}
        }
        for (name, value) in upstream {
            if self.plain_header(name.as_str()) {
                out.append(name.clone(), value.clone());
            }
        }
        Ok(out)
    }
}

/** `^\s*attachment\b`, case-insensitive. */
fn attachment(disposition: &str) -> bool {
    let d = disposition.trim_start();
    d.len() >= 10
        && d[..10].eq_ignore_ascii_case("attachment")
        && !d[10..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
}

/**
 * answer.ts's withinSession: whether `location`, read against `request_path` (the browser's
 * `/sessions/{id}/…`) as a browser resolves it (the WHATWG URL parser, as Node's `URL`),
 * stays on this origin within that session's path.
 */
pub fn within_session(location: &str, request_path: &str) -> bool {
    let Some(rest) = request_path.strip_prefix("/sessions/") else {
        return false;
    };
    let Some(end) = rest.find(['/', '?', '#']) else {
        return false;
    };
    if end == 0 || !rest[end..].starts_with('/') {
        return false;
    }
    let prefix = &request_path[..10 + end + 1];
    let Ok(base) = Url::parse(&format!("http://gateway.invalid{request_path}")) else {
        return false;
    };
    match base.join(location) {
        Ok(url) => url.origin() == base.origin() && url.path().starts_with(prefix),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_in_the_session() {
        let p = "/sessions/abc/dir/page?x=1";
        assert!(within_session("data.json", p));
        assert!(within_session("../data.json", p));
        assert!(within_session("/sessions/abc/", p));
        assert!(!within_session("../../../api/v1/me", p));
        assert!(!within_session("/sessions/abc/%2e%2e/x", p));
        assert!(!within_session("//evil.test/x", p));
        assert!(!within_session("http://evil.test/sessions/abc/", p));
        assert!(!within_session("/sessions/abcd/", p));
        assert!(!within_session("x", "/sessions/abc"));
    }

    #[test]
    fn attachment_is_a_word() {
        assert!(attachment("attachment"));
        assert!(attachment("  Attachment; filename=x"));
        assert!(!attachment("attachments"));
        assert!(!attachment("inline"));
    }
}
