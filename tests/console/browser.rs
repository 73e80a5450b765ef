//! A headless Chromium driven through ChromeDriver (WebDriver), found by visible labels.
//!
//! Each `Browser` runs its own chromedriver on a free port, in its own process group, with a
//! fresh Chromium profile; `finish()` closes the session and checks the browser console for
//! errors (CSP violations and script errors are logged there), and dropping the `Browser`
//! kills the process group, so a failing test leaves no browser behind.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const DESKTOP: (u32, u32) = (1280, 800);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Options {
    pub javascript: bool,
    /// A request header added to every request (the SSO proxy's header).
    pub header: Option<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            javascript: true,
            header: None,
        }
    }
}

impl Options {
    /// Default options with JavaScript on or off.
    pub fn js(javascript: bool) -> Options {
        Options {
            javascript,
            ..Options::default()
        }
    }
}

pub struct Browser {
    pub c: Client,
    base: String,
    /// The page a click left while a confirm dialog was open (accepting it navigates away).
    pending: std::sync::Mutex<Option<Element>>,
    driver: Child,
    _profile: TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn binary(name: &str, fallback: &str) -> String {
    ["/usr/bin/", "/usr/lib/chromium/"]
        .iter()
        .map(|d| format!("{d}{name}"))
        .find(|p| PathBuf::from(p).exists())
        .unwrap_or_else(|| fallback.to_string())
}

/// A ChromeDriver extension command: `POST /session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct Extension {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Extension {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

impl Browser {
    pub async fn start(base: &str, opts: Options) -> Browser {
        let port = free_port();
        let driver = Command::new(binary("chromedriver", "chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver runs (scripts/install-test-deps installs it)");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut chrome = json!({
            "binary": binary("chromium", "chromium"),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--disable-extensions", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--lang=en-US",
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        if !opts.javascript {
            chrome["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": { "browser": "ALL" },
            "unhandledPromptBehavior": "ignore",
        });
        let caps = caps.as_object().cloned().expect("object");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let c = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    panic!("cannot start a browser session: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let b = Browser {
            c,
            base: base.to_string(),
            pending: std::sync::Mutex::new(None),
            driver,
            _profile: profile,
        };
        if let Some((name, value)) = opts.header {
            b.cdp("Network.enable", json!({})).await;
            b.cdp(
                "Network.setExtraHTTPHeaders",
                json!({ "headers": { name: value } }),
            )
            .await;
        }
        b
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.c
            .issue_cmd(Extension {
                path: "goog/cdp/execute",
                body: json!({ "cmd": cmd, "params": params }),
            })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn goto(&self, path: &str) {
        self.c.goto(&self.url(path)).await.expect("navigate");
    }

    /// The current path with its query (`/tokens/3`, `/?name=x`).
    pub async fn path(&self) -> String {
        let u = self.c.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{}", u.path(), q),
            None => u.path().to_string(),
        }
    }

    /// The text of the first `css` element, retrying while a new page is still loading.
    pub async fn text_of(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = match self.c.find(Locator::Css(css)).await {
                Ok(e) => e.text().await,
                Err(e) => Err(e),
            };
            match found {
                Ok(t) => return t,
                Err(e)
                    if (e.is_no_such_element() || e.is_stale_element_reference())
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(25)).await
                }
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    pub async fn text(&self) -> String {
        self.text_of("body").await
    }

    pub async fn heading(&self) -> String {
        self.text_of("h1").await
    }

    /// Asserts the page shows `needle` somewhere.
    pub async fn sees(&self, needle: &str) {
        let text = self.text().await;
        assert!(
            text.contains(needle),
            "expected “{needle}” on {}:\n{text}",
            self.path().await
        );
    }

    pub async fn does_not_see(&self, needle: &str) {
        let text = self.text().await;
        assert!(
            !text.contains(needle),
            "did not expect “{needle}” on {}:\n{text}",
            self.path().await
        );
    }

    /// The form control labelled `label` (a `<label for>` or a label wrapping the control).
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!("//label[normalize-space(.)='{label}']");
        let l = self
            .c
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no label “{label}”"));
        match l.attr("for").await.expect("attr") {
            Some(id) => self
                .c
                .find(Locator::Id(&id))
                .await
                .expect("labelled control"),
            None => l
                .find(Locator::Css("input, select, textarea"))
                .await
                .expect("control inside label"),
        }
    }

    /// Types `value` into the field labelled `label` (replacing its content).
    pub async fn fill(&self, label: &str, value: &str) {
        let f = self.field(label).await;
        f.clear().await.expect("clear");
        f.send_keys(value).await.expect("type");
    }

    /// Sets a field's value directly (date-time inputs, whose typing is locale-dependent).
    pub async fn set_value(&self, label: &str, value: &str) {
        let f = self.field(label).await;
        let el = serde_json::to_value(&f).expect("element");
        self.c
            .execute("arguments[0].value = arguments[1];", vec![el, json!(value)])
            .await
            .expect("set value");
    }

    /// Picks the option with visible text `option` in the select labelled `label`.
    pub async fn select(&self, label: &str, option: &str) {
        let f = self.field(label).await;
        f.select_by_label(option).await.expect("select option");
    }

    /// Sets the checkbox labelled `label` to `on`.
    pub async fn check(&self, label: &str, on: bool) {
        let f = self.field(label).await;
        if f.is_selected().await.expect("selected?") != on {
            f.click().await.expect("click checkbox");
        }
    }

    /// Sets the permission checkbox `name` (e.g. `attacks:read`) to `on`.
    pub async fn permission(&self, name: &str, on: bool) {
        let css = format!("#perm-grid input[value='{name}']");
        let b = self
            .c
            .find(Locator::Css(&css))
            .await
            .expect("permission box");
        if b.is_selected().await.expect("selected?") != on {
            b.click().await.expect("click permission");
        }
    }

    /// Whether the permission checkbox `name` is shown (offered for the chosen owner).
    pub async fn permission_offered(&self, name: &str) -> bool {
        let css = format!("#perm-grid label[data-perm='{name}']");
        let label = self
            .c
            .find(Locator::Css(&css))
            .await
            .expect("permission box");
        label.is_displayed().await.expect("displayed?")
    }

    /// Unticks every permission checkbox.
    pub async fn uncheck_all_permissions(&self) {
        for b in self
            .c
            .find_all(Locator::Css("#perm-grid input[name=permissions]"))
            .await
            .expect("boxes")
        {
            if b.is_selected().await.expect("selected?") && b.is_displayed().await.unwrap_or(false)
            {
                b.click().await.expect("untick");
            }
        }
    }

    pub async fn is_checked(&self, label: &str) -> bool {
        self.field(label)
            .await
            .is_selected()
            .await
            .expect("selected?")
    }

    fn button_xpath(text: &str) -> String {
        format!("//button[normalize-space(.)='{text}'] | //a[normalize-space(.)='{text}']")
    }

    /// Clicks the button (or link styled as one) whose text is `text`.
    pub async fn click(&self, text: &str) {
        let el = self
            .c
            .find(Locator::XPath(&Self::button_xpath(text)))
            .await
            .unwrap_or_else(|_| panic!("no button or link “{text}”"));
        self.click_element(el).await;
    }

    /// Clicks `el`; when it submits a form or follows a link, waits until the next page has
    /// replaced this one (WebDriver's click does not always wait for a form submission).
    pub async fn click_element(&self, el: Element) {
        let tag = el.tag_name().await.expect("tag");
        let kind = el.attr("type").await.expect("type").unwrap_or_default();
        let navigates = tag == "a" || (tag == "button" && (kind.is_empty() || kind == "submit"));
        let page = self.c.find(Locator::Css("html")).await.expect("html");
        el.click().await.expect("click");
        if navigates && !self.wait_gone(&page).await {
            *self.pending.lock().expect("lock") = Some(page);
        }
    }

    /// Waits until `page` is replaced by a loaded new page (true), or a dialog opened (false).
    async fn wait_gone(&self, page: &Element) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            match page.tag_name().await {
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) if e.is_unexpected_alert_open() => return false,
                Err(_) => {
                    // The old document is gone; wait for the new one's body.
                    while self.c.find(Locator::Css("body")).await.is_err()
                        && Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    return true;
                }
            }
        }
        panic!("the click did not lead to a new page");
    }

    pub async fn has_button(&self, text: &str) -> bool {
        let found = self
            .c
            .find_all(Locator::XPath(&Self::button_xpath(text)))
            .await
            .expect("find");
        for e in found {
            if e.is_displayed().await.unwrap_or(false) {
                return true;
            }
        }
        false
    }

    /// The text on the system clipboard (read permission granted through CDP).
    pub async fn clipboard(&self) -> String {
        let params = json!({
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
            "origin": self.base,
        });
        self.cdp("Browser.grantPermissions", params).await;
        let v = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 navigator.clipboard.readText().then(done, e => done('error: ' + e));",
                vec![],
            )
            .await
            .expect("read clipboard");
        v.as_str().unwrap_or_default().to_string()
    }

    /// Waits (up to 5 s) until a button or link `text` is shown.
    pub async fn wait_for_button(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.has_button(text).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// The table row whose link text is `name`.
    pub async fn row(&self, name: &str) -> Element {
        let xpath =
            format!("//tr[.//a[normalize-space(.)='{name}'] or td[normalize-space(.)='{name}']]");
        self.c
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no row “{name}”"))
    }

    /// Clicks the button `text` inside the row of `name`.
    pub async fn click_in_row(&self, name: &str, text: &str) {
        let xpath = format!(".//button[normalize-space(.)='{text}']");
        let el = self
            .row(name)
            .await
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no “{text}” in row “{name}”"));
        self.click_element(el).await;
    }

    pub async fn row_text(&self, name: &str) -> String {
        self.row(name).await.text().await.expect("row text")
    }

    /// Ticks the selection checkbox of the row `name`.
    pub async fn select_row(&self, name: &str) {
        let b = self
            .row(name)
            .await
            .find(Locator::Css("input[name=ids]"))
            .await
            .expect("row checkbox");
        if !b.is_selected().await.expect("selected?") {
            b.click().await.expect("tick");
        }
    }

    /// Clicks the heading of the column `label` (sorting the list by it).
    pub async fn sort_by(&self, label: &str) {
        let xpath = format!("//th/a[starts-with(normalize-space(.), '{label}')]");
        let el = self
            .c
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no column “{label}”"));
        self.click_element(el).await;
    }

    /// The names in the first column of the table.
    pub async fn row_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .c
            .find_all(Locator::Css("table tbody td.col-name a"))
            .await
            .expect("rows")
        {
            out.push(e.text().await.expect("text"));
        }
        out
    }

    /// The current value of the field labelled `label`.
    pub async fn field_value(&self, label: &str) -> String {
        self.field(label)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// The value of the read-only value field (`Token value`).
    pub async fn value_of(&self, id: &str) -> String {
        self.c
            .find(Locator::Id(id))
            .await
            .expect("value field")
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Accepts (or dismisses) the confirm dialog the last click opened; returns its text.
    pub async fn answer_dialog(&self, accept: bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.c.get_alert_text().await {
                Ok(text) => {
                    let page = self.pending.lock().expect("lock").take();
                    if accept {
                        self.c.accept_alert().await.expect("accept");
                        if let Some(page) = page {
                            self.wait_gone(&page).await;
                        }
                    } else {
                        self.c.dismiss_alert().await.expect("dismiss");
                    }
                    return text;
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("no dialog: {e}"),
            }
        }
    }

    /// Logs in through the form and lands on the console.
    pub async fn login(&self, email: &str, password: &str) {
        self.goto("/login").await;
        self.fill("Email", email).await;
        self.fill("Password", password).await;
        self.click("Log in").await;
        let path = self.path().await;
        assert!(
            path == "/" || path == "/profile",
            "login of {email} ended at {path}"
        );
    }

    pub async fn logout(&self) {
        self.click("Log out").await;
        assert_eq!(self.path().await, "/login");
    }

    /// Sets the viewport to exactly `w`×`h` CSS pixels (narrow ones emulate a phone).
    pub async fn resize(&self, (w, h): (u32, u32)) {
        let params = json!({ "width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600 });
        self.cdp("Emulation.setDeviceMetricsOverride", params).await;
    }

    /// Saves a PNG of the viewport as `name.png` (see `screenshot_dir`).
    pub async fn screenshot(&self, name: &str) {
        let png = self.c.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Browser console entries at level SEVERE, except the expected 4xx answers of pages the
    /// test visits on purpose (a 404 page, a 422 form). A failing static file still counts.
    pub async fn console_errors(&self) -> Vec<String> {
        let logs = self
            .c
            .issue_cmd(Extension {
                path: "se/log",
                body: json!({ "type": "browser" }),
            })
            .await
            .expect("browser log");
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .filter_map(|e| e["message"].as_str().map(str::to_string))
            .filter(|m| {
                let expected_status = m.contains("the server responded with a status of 4")
                    && !m.contains("/static/");
                !expected_status
            })
            .collect()
    }

    /// Checks the console is clean and closes the session.
    pub async fn finish(self) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "browser console errors: {errors:#?}");
        let _ = self.c.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the Chromium it started.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `docs/screenshots/` when `UPDATE_SCREENSHOTS=1`, else
/// `target/console-screenshots/` (so a normal test run leaves the work tree clean).
pub fn screenshot_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        root.join("docs/screenshots")
    } else {
        root.join("target/console-screenshots")
    }
}
