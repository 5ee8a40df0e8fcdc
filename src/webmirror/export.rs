//! `nxr export DIR`: the web mirror as a static site. Every screen is rendered by the same
//! maud pages the live mirror serves, then made read-only: forms, buttons, inputs and the
//! live script are taken out, and site links become relative file names, so the folder
//! works from `file://`, a shared drive or any static host.
//!
//! The read-only pass works on the rendered HTML rather than on a flag inside every page:
//! each new control a page grows is dropped from the export without touching the export.
//! It is safe to scan because maud escapes `<`, `>` and `"` in text and attribute values,
//! so every `<` in a page starts a tag.

use std::path::Path;

use super::page::{PageCtx, render_screen};
use crate::core::action::Intent;
use crate::core::export::{self, ExportFile};
use crate::core::session::{PICKER_CHROME, Session};
use crate::core::view::Tab;
use crate::core::{Core, CoreError};

/// The stylesheet's file name inside the export.
pub const STYLESHEET: &str = "style.css";

/// The page file for a site path (`/agents/manage` → `agents-manage.html`); `None` for paths
/// the export does not hold.
pub fn file_for(path: &str) -> Option<String> {
    if path == "/" {
        return Some("index.html".into());
    }
    if path == "/static/style.css" {
        return Some(STYLESHEET.into());
    }
    Tab::ALL.iter().find(|t| t.path() == path).map(|t| {
        format!(
            "{}.html",
            t.path().trim_start_matches('/').replace('/', "-")
        )
    })
}

/// Every file of the export, rendered from a fresh session on `core`: one page per tab,
/// `index.html` (the first tab) and the stylesheet.
pub async fn render(core: &Core) -> Result<Vec<ExportFile>, CoreError> {
    let mut session = Session::new(core.clone()).await?;
    // The live mirror's page size, so lists show as many rows as in a browser.
    session
        .apply(Intent::Resize {
            width: 160,
            height: 40 + PICKER_CHROME,
        })
        .await;
    let mut files = Vec::with_capacity(Tab::ALL.len() + 2);
    for tab in Tab::ALL {
        if session.tab() != tab {
            session.apply(Intent::SwitchTab { tab }).await;
        }
        session.settle();
        let screen = session.view();
        let ctx = PageCtx::new(tab.path(), Vec::new(), "");
        let html = read_only(&render_screen(&screen, &ctx).0);
        let name = file_for(tab.path()).unwrap_or_else(|| "page.html".into());
        if tab == Tab::ALL[0] {
            files.push(ExportFile::new("index.html", html.clone()));
        }
        files.push(ExportFile::new(&name, html));
    }
    files.push(ExportFile::new(STYLESHEET, super::page::STYLE.to_string()));
    Ok(files)
}

/// Renders and writes the export into `dir` atomically.
pub async fn write(core: &Core, dir: &Path) -> Result<Vec<ExportFile>, CoreError> {
    let files = render(core).await?;
    export::write_dir(core, dir, &files)?;
    Ok(files)
}

/// A page without its controls and script, with site links made relative.
pub fn read_only(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // While inside an element that is dropped whole: the closing tag that ends it.
    let mut skip_to: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_to.is_none() {
            out.push_str(&rest[..lt]);
        }
        let tail = &rest[lt..];
        let end = tail.find('>').map(|i| i + 1).unwrap_or(tail.len());
        let tag = &tail[..end];
        rest = &tail[end..];
        let name = tag_name(tag);
        if let Some(close) = skip_to {
            if name == close {
                skip_to = None;
            }
            continue;
        }
        match name.as_str() {
            "form" | "/form" | "input" => {}
            "button" => skip_to = Some("/button"),
            "script" => skip_to = Some("/script"),
            "select" => skip_to = Some("/select"),
            "textarea" => skip_to = Some("/textarea"),
            _ => rewrite_links(tag, &mut out),
        }
    }
    if skip_to.is_none() {
        out.push_str(rest);
    }
    out
}

/// `<a href=…>` → `a`, `</form>` → `/form`, lowercased.
fn tag_name(tag: &str) -> String {
    tag.trim_start_matches('<')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Copies `tag`, pointing `href` values at the export's files. A site link the export does
/// not hold (another page's state, such as `?agent=pm`) loses its `href` and keeps its text,
/// so no link in the folder is broken.
fn rewrite_links(tag: &str, out: &mut String) {
    const HREF: &str = " href=\"";
    let Some(at) = tag.find(HREF) else {
        out.push_str(tag);
        return;
    };
    let start = at + HREF.len();
    let Some(len) = tag[start..].find('"') else {
        out.push_str(tag);
        return;
    };
    let value = &tag[start..start + len];
    let outside = ["http://", "https://", "mailto:", "#"];
    if outside.iter().any(|p| value.starts_with(p)) {
        out.push_str(tag);
        return;
    }
    let (path, fragment) = match value.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (value, None),
    };
    let path = path.split_once('?').map(|(p, _)| p).unwrap_or(path);
    out.push_str(&tag[..at]);
    if let Some(file) = file_for(path) {
        out.push_str(HREF);
        out.push_str(&file);
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        out.push('"');
    }
    out.push_str(&tag[start + len + 1..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_scripts_are_dropped_and_their_surroundings_kept() {
        let page = concat!(
            "<html><head><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>",
            "<form method=\"post\" action=\"/hermes\"><input type=\"hidden\" name=\"csrf\" value=\"t\">",
            "<table><tr><td>pm</td></tr></table>",
            "<button type=\"submit\" name=\"action\" value=\"x\"><kbd>r</kbd> rescore</button></form>",
            "<select name=\"s\"><option>a</option></select><textarea>t</textarea>",
            "<script src=\"/static/live.js\" defer></script></body></html>"
        );
        let out = read_only(page);
        assert_eq!(
            out,
            "<html><head><link rel=\"stylesheet\" href=\"style.css\"></head><body>\
             <table><tr><td>pm</td></tr></table></body></html>"
        );
    }

    #[test]
    fn site_links_become_files_and_unknown_ones_lose_their_target() {
        let out = read_only(concat!(
            "<a href=\"/agents/manage?agent=pm&amp;x=1\" class=\"tab\">3 Agents</a>",
            "<a href=\"/hermes#top\">1</a>",
            "<a href=\"/setup\">Setup</a>",
            "<a href=\"?agent=pm\" class=\"row\">pm</a>",
            "<a href=\"https://openrouter.ai/settings/keys\">keys</a>"
        ));
        assert_eq!(
            out,
            concat!(
                "<a href=\"agents-manage.html\" class=\"tab\">3 Agents</a>",
                "<a href=\"hermes.html#top\">1</a>",
                "<a>Setup</a>",
                "<a class=\"row\">pm</a>",
                "<a href=\"https://openrouter.ai/settings/keys\">keys</a>"
            )
        );
    }

    #[test]
    fn every_tab_has_its_own_file() {
        let mut names: Vec<String> = Tab::ALL.iter().filter_map(|t| file_for(t.path())).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Tab::ALL.len(), "{names:?}");
    }
}
