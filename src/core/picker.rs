//! The fuzzy model picker: nucleo over the whole catalog, with filters, driven the same way
//! from the TUI (one `tick` per frame) and the web mirror (ticked until done per request).
//! Only the visible window is copied into the view, with the matched character positions.

use std::sync::Arc;

use nucleo::pattern::{CaseMatching, Normalization};
use nucleo::{Config, Matcher, Nucleo};
use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, Model};
use super::routing::{Needs, takes_images};
use super::scoring::{Quality, Role, Scorer};
use super::text;

/// Minimum-context steps the filter cycles through.
pub const CONTEXT_STEPS: [u64; 5] = [0, 32_768, 65_536, 131_072, 262_144];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub free_only: bool,
    #[serde(default)]
    pub tools_only: bool,
    #[serde(default)]
    pub min_context: u64,
    #[serde(default)]
    pub provider: Option<String>,
    /// Only models that take images (what the vision slot needs).
    #[serde(default)]
    pub image_only: bool,
}

impl Filters {
    /// The filters a picker on a slot with these needs opens with: they show only the
    /// models that meet them, and each can be turned off.
    pub fn for_needs(mut self, needs: &Needs) -> Filters {
        self.image_only |= needs.image_input;
        self.min_context = self.min_context.max(
            CONTEXT_STEPS
                .iter()
                .copied()
                .filter(|&c| c <= needs.min_context)
                .max()
                .unwrap_or(0),
        );
        self
    }

    pub fn keep(&self, m: &Model) -> bool {
        (!self.free_only || m.is_free())
            && (!self.tools_only || m.supports("tools"))
            && (!self.image_only || takes_images(m))
            && m.context() >= self.min_context
            && self.provider.as_deref().is_none_or(|p| m.provider() == p)
    }
}

/// Which filter a toggle changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    Free,
    Tools,
    Context,
    Provider,
    Image,
}

/// Why a paid model cannot be chosen yet: the same words on every surface.
pub const PAID_NEEDS_KEY: &str =
    "paid: needs an OpenRouter key with credits (nxr config set openrouter-key KEY)";

/// One candidate as the picker shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PickerRow {
    pub model: String,
    /// `id  name`, cleaned of control characters; `matches` index its chars.
    pub label: String,
    pub matches: Vec<u32>,
    pub free: bool,
    pub tools: bool,
    pub context: u64,
    pub prompt: String,
    pub completion: String,
    pub score: Option<f64>,
    pub qualified: bool,
    /// Takes image input.
    pub image: bool,
    /// Can be written now: a paid model needs a key whose account can pay.
    pub usable: bool,
    /// Why not, when not usable.
    pub reason: Option<String>,
    /// What the slot needs that this model lacks ("no image input").
    pub lacks: Option<String>,
}

struct Item {
    index: u32,
    label: String,
    /// The label's first bytes that are the model id: the text that is matched.
    id_bytes: usize,
    score: Option<f64>,
    qualified: bool,
    quality: Quality,
}

/// What the picker is choosing for: the slot's needs and whether paid models can be used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub needs: Needs,
    /// A stored key whose account can pay: without one, paid models are shown but unusable.
    pub can_pay: bool,
}

impl Default for Fit {
    fn default() -> Fit {
        Fit {
            needs: Needs::default(),
            can_pay: true,
        }
    }
}

pub struct Picker {
    catalog: Arc<Catalog>,
    role: Role,
    fit: Fit,
    nucleo: Nucleo<Item>,
    matcher: Matcher,
    query: String,
    filters: Filters,
    /// Position of the highlighted row among all matches.
    pub cursor: usize,
    /// First visible match.
    pub offset: usize,
    providers: Vec<String>,
}

impl Picker {
    /// A picker over `catalog`, ranked best-first for `role` when the query is empty.
    pub fn new(
        catalog: Arc<Catalog>,
        role: Role,
        filters: Filters,
        notify: Arc<dyn Fn() + Sync + Send>,
    ) -> Picker {
        Picker::fitted(catalog, role, filters, Fit::default(), notify)
    }

    /// A picker for a slot: models that can be used and meet the slot's needs rank first,
    /// each in the role's order.
    pub fn fitted(
        catalog: Arc<Catalog>,
        role: Role,
        filters: Filters,
        fit: Fit,
        notify: Arc<dyn Fn() + Sync + Send>,
    ) -> Picker {
        let nucleo = Nucleo::new(Config::DEFAULT, notify, None, 1);
        let mut providers: Vec<String> = catalog
            .models
            .iter()
            .map(|m| m.provider().to_string())
            .collect();
        providers.sort();
        providers.dedup();
        let mut p = Picker {
            catalog,
            role,
            fit,
            nucleo,
            matcher: Matcher::new(Config::DEFAULT),
            query: String::new(),
            filters,
            cursor: 0,
            offset: 0,
            providers,
        };
        p.inject();
        p
    }

    fn inject(&mut self) {
        self.nucleo.restart(true);
        let scorer = Scorer::new(&self.catalog);
        let mut ranked: Vec<(u32, Option<f64>, bool, Quality)> = scorer
            .rank(self.role)
            .into_iter()
            .filter(|s| self.filters.keep(scorer.model(s)))
            .map(|s| (s.index, Some(s.total), s.qualified(), s.quality))
            .collect();
        // Models that can be written and meet the slot's needs first, so the one highlighted
        // on opening is one the person can use; within each group the role's order (a
        // stable sort keeps it).
        if !self.fit.can_pay || !self.fit.needs.is_empty() {
            let fit = self.fit;
            let models = &self.catalog.models;
            ranked.sort_by_key(|(i, _, _, _)| {
                let m = &models[*i as usize];
                (!(fit.can_pay || m.is_free()), fit.needs.lacks(m).is_some())
            });
        }
        // Qualified first, best first; rank() already sorts that way. Only the id is matched
        // (the name is shown beside it): half the text to match, so a keystroke over a
        // 100,000-model catalog fits in a frame; ids carry the family, size and `:free`.
        let injector = self.nucleo.injector();
        for (index, score, qualified, quality) in ranked {
            let m = &self.catalog.models[index as usize];
            let label = text::clean_max(&format!("{}  {}", m.id, m.name), 160);
            let id_bytes = text::clean_max(&m.id, 160).len().min(label.len());
            let id_bytes = (0..=id_bytes)
                .rev()
                .find(|&b| label.is_char_boundary(b))
                .unwrap_or(0);
            injector.push(
                Item {
                    index,
                    label,
                    id_bytes,
                    score,
                    qualified,
                    quality,
                },
                |item, cols| cols[0] = item.label[..item.id_bytes].into(),
            );
        }
        self.cursor = 0;
        self.offset = 0;
        let query = self.query.clone();
        self.nucleo
            .pattern
            .reparse(0, &query, CaseMatching::Smart, Normalization::Smart, false);
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn filters(&self) -> &Filters {
        &self.filters
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn fit(&self) -> Fit {
        self.fit
    }

    /// Why `m` cannot be written now, if it cannot.
    pub fn unusable(&self, m: &Model) -> Option<&'static str> {
        (!self.fit.can_pay && !m.is_free()).then_some(PAID_NEEDS_KEY)
    }

    pub fn set_query(&mut self, query: &str) {
        if query == self.query {
            return;
        }
        let append = query.starts_with(&self.query);
        self.query = query.to_string();
        self.nucleo
            .pattern
            .reparse(0, query, CaseMatching::Smart, Normalization::Smart, append);
        self.cursor = 0;
        self.offset = 0;
    }

    pub fn set_filters(&mut self, filters: Filters) {
        if filters != self.filters {
            self.filters = filters;
            self.inject();
        }
    }

    pub fn toggle(&mut self, kind: FilterKind) {
        let mut f = self.filters.clone();
        match kind {
            FilterKind::Free => f.free_only = !f.free_only,
            FilterKind::Tools => f.tools_only = !f.tools_only,
            FilterKind::Image => f.image_only = !f.image_only,
            FilterKind::Context => {
                let i = CONTEXT_STEPS
                    .iter()
                    .position(|&c| c == f.min_context)
                    .unwrap_or(0);
                f.min_context = CONTEXT_STEPS[(i + 1) % CONTEXT_STEPS.len()];
            }
            FilterKind::Provider => {
                // Cycle: all → the highlighted row's provider → all.
                f.provider = match f.provider {
                    Some(_) => None,
                    None => self
                        .selected()
                        .map(|m| m.provider().to_string())
                        .or_else(|| self.providers.first().cloned()),
                };
            }
        }
        self.set_filters(f);
    }

    /// Lets the matcher work for up to `ms` milliseconds; true when results changed.
    pub fn tick(&mut self, ms: u64) -> bool {
        self.nucleo.tick(ms).changed
    }

    /// Ticks until matching is finished (the web mirror renders complete results).
    pub fn settle(&mut self) {
        loop {
            let status = self.nucleo.tick(50);
            if !status.running {
                break;
            }
        }
    }

    pub fn matched(&self) -> usize {
        self.nucleo.snapshot().matched_item_count() as usize
    }

    pub fn total(&self) -> usize {
        self.nucleo.snapshot().item_count() as usize
    }

    pub fn move_cursor(&mut self, delta: i64) {
        let n = self.matched();
        if n == 0 {
            self.cursor = 0;
            return;
        }
        let c = (self.cursor as i64 + delta).clamp(0, n as i64 - 1);
        self.cursor = c as usize;
    }

    pub fn select(&mut self, position: usize) {
        let n = self.matched();
        self.cursor = position.min(n.saturating_sub(1));
    }

    /// The highlighted model.
    pub fn selected(&self) -> Option<&Model> {
        let item = self
            .nucleo
            .snapshot()
            .get_matched_item(self.cursor as u32)?;
        self.catalog.models.get(item.data.index as usize)
    }

    /// The highlighted model with its score for the picker's role (`None` when it misses
    /// the role's requirements): the score computed when the catalog was loaded in.
    /// The highlighted model's benchmark evidence for the picker's role.
    pub fn selected_evidence(&self) -> Option<String> {
        let item = self
            .nucleo
            .snapshot()
            .get_matched_item(self.cursor as u32)?;
        let m = self.catalog.models.get(item.data.index as usize)?;
        Some(item.data.quality.describe(m.is_free()))
    }

    pub fn selected_scored(&self) -> Option<(&Model, Option<f64>)> {
        let item = self
            .nucleo
            .snapshot()
            .get_matched_item(self.cursor as u32)?;
        let m = self.catalog.models.get(item.data.index as usize)?;
        Some((m, item.data.score.filter(|_| item.data.qualified)))
    }

    /// The rows that fit in `height`, scrolled so the cursor is visible.
    pub fn window(&mut self, height: usize) -> Vec<PickerRow> {
        let n = self.matched();
        self.cursor = self.cursor.min(n.saturating_sub(1));
        let height = height.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + height {
            self.offset = self.cursor + 1 - height;
        }
        self.offset = self.offset.min(n.saturating_sub(height.min(n)));
        let end = (self.offset + height).min(n);
        let snapshot = self.nucleo.snapshot();
        let pattern = snapshot.pattern().column_pattern(0);
        let mut rows = Vec::with_capacity(end - self.offset);
        let mut indices = Vec::new();
        for item in snapshot.matched_items(self.offset as u32..end as u32) {
            let data = item.data;
            indices.clear();
            pattern.indices(
                item.matcher_columns[0].slice(..),
                &mut self.matcher,
                &mut indices,
            );
            indices.sort_unstable();
            indices.dedup();
            let m = &self.catalog.models[data.index as usize];
            let reason = self.unusable(m).map(str::to_string);
            rows.push(PickerRow {
                // Cleaned like the label: the id is shown and sent back by the web page.
                model: text::clean_max(&m.id, m.id.len()),
                label: data.label.clone(),
                matches: indices.clone(),
                free: m.is_free(),
                tools: m.supports("tools"),
                context: m.context(),
                prompt: text::per_million(m.prompt_per_million()),
                completion: text::per_million(m.completion_per_million()),
                score: data.score,
                qualified: data.qualified,
                image: takes_images(m),
                usable: reason.is_none(),
                reason,
                lacks: self.fit.needs.lacks(m),
            });
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(filters: Filters) -> Picker {
        let mut p = Picker::new(
            Arc::new(Catalog::bundled()),
            Role::Engineer,
            filters,
            Arc::new(|| {}),
        );
        p.settle();
        p
    }

    #[test]
    fn an_empty_query_lists_the_best_model_for_the_role_first() {
        let mut p = picker(Filters {
            free_only: true,
            ..Filters::default()
        });
        let rows = p.window(5);
        assert_eq!(rows[0].model, "qwen/qwen3-coder:free");
        assert!(rows.iter().all(|r| r.free));
        assert_eq!(
            p.selected().map(|m| m.id.as_str()),
            Some("qwen/qwen3-coder:free")
        );
    }

    #[test]
    fn typing_narrows_and_marks_the_matched_characters() {
        let mut p = picker(Filters::default());
        let all = p.matched();
        p.set_query("qwen coder");
        p.settle();
        assert!(p.matched() < all);
        let rows = p.window(10);
        assert!(rows.iter().all(|r| r.label.to_lowercase().contains("qwen")));
        let first = &rows[0];
        let chars: Vec<char> = first.label.chars().collect();
        let marked: String = first.matches.iter().map(|&i| chars[i as usize]).collect();
        assert!(marked.to_lowercase().contains('q'), "{marked}");
    }

    #[test]
    fn the_highlighted_model_carries_the_scorers_score() {
        let mut p = picker(Filters::default());
        p.set_query("gemma");
        p.settle();
        for pos in 0..p.matched().min(8) {
            p.select(pos);
            let (m, score) = p.selected_scored().expect("a match");
            let cat = Catalog::bundled();
            let idx = cat
                .models
                .iter()
                .position(|x| x.id == m.id)
                .expect("in catalog");
            let s = Scorer::new(&cat).score(idx as u32, Role::Engineer);
            assert_eq!(score, s.qualified().then_some(s.total), "{}", m.id);
        }
    }

    #[test]
    fn filters_toggle_and_the_window_follows_the_cursor() {
        let mut p = picker(Filters::default());
        let all = p.total();
        p.toggle(FilterKind::Free);
        p.settle();
        assert!(p.total() < all);
        p.toggle(FilterKind::Context);
        p.toggle(FilterKind::Context);
        p.settle();
        assert!(p.window(100).iter().all(|r| r.context >= 65_536 && r.free));
        p.move_cursor(7);
        let rows = p.window(3);
        assert_eq!(rows.len(), 3);
        assert_eq!(p.offset, 5);
        assert_eq!(
            rows[2].model,
            p.selected().map(|m| m.id.clone()).unwrap_or_default()
        );
    }
}
