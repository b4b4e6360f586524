using System.Text.Json;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Docs;

/// <summary>
/// <c>/docs</c> rendered by headless Chromium at a desktop width (1280 px) and on a phone (390 px, mobile
/// emulation): no table cell is narrower than its longest token (a path such as
/// <c>/channels/{id}/broadcast</c> or a key such as <c>persist_messages_default</c> is never split across lines),
/// and the page itself never scrolls sideways. Screenshots go to <c>tests/TestResults/screenshots</c>.
/// </summary>
public sealed class DocsPageBrowserTests(ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    /// <summary>
    /// For every table cell, every path token — a whitespace-separated run (across text nodes too, e.g.
    /// <c>&lt;code&gt;a&lt;/code&gt;b</c>) that is code (inside <c>code</c> or a <c>.m</c> cell) or holds <c>/ _ { }</c> — must
    /// lie on one line, and the cell's content must fit its box (prose may still wrap after a hyphen). Returns the
    /// offenders, plus the page's size.
    /// </summary>
    private const string TableLayoutProbe = """
(() => {
  const problems = [];
  document.querySelectorAll('table').forEach((table, t) => {
    table.querySelectorAll('th, td').forEach((cell) => {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      const pieces = [];
      for (let n = walker.nextNode(); n; n = walker.nextNode()) pieces.push(n);
      // Tokens: maximal runs of non-space characters, possibly spanning text nodes.
      let start = null, text = '', last = null;
      const tokens = [];
      const flush = () => { if (start) tokens.push({start, end: last, text}); start = null; text = ''; };
      for (const node of pieces) {
        const s = node.data;
        for (let i = 0; i < s.length; i++) {
          if (/\s/.test(s[i])) { flush(); continue; }
          if (!start) start = {node, offset: i};
          last = {node, offset: i + 1};
          text += s[i];
        }
      }
      flush();
      for (const token of tokens) {
        // Path tokens: code (inside <code> or a .m cell) or anything shaped like a path or key.
        const inCode = [token.start.node, token.end.node].some(n => n.parentElement.closest('code, .m'));
        if (!inCode && !/[\/_{}]/.test(token.text)) continue;
        const range = document.createRange();
        range.setStart(token.start.node, token.start.offset);
        range.setEnd(token.end.node, token.end.offset);
        // Rects of one line overlap vertically (an inline <code> box sits a pixel or two off the text's); a rect
        // that starts below the previous line's bottom is a new line.
        const rects = [...range.getClientRects()].filter(r => r.width > 0).sort((a, b) => a.top - b.top);
        let lines = 0, bottom = -Infinity;
        for (const r of rects) { if (r.top >= bottom - 1) { lines++; bottom = r.bottom; } else bottom = Math.max(bottom, r.bottom); }
        if (lines > 1) {
          problems.push({table: t, cell: cell.textContent.trim().slice(0, 60), token: token.text,
            lines, cellWidth: Math.round(cell.getBoundingClientRect().width)});
        }
      }
      if (cell.scrollWidth > cell.clientWidth + 1) {
        problems.push({table: t, cell: cell.textContent.trim().slice(0, 60), token: '(content wider than its cell)',
          lines: 1, cellWidth: cell.clientWidth});
      }
    });
  });
  return {problems, pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
    pageHeight: document.documentElement.scrollHeight, tables: document.querySelectorAll('table').length};
})()
""";

    [Theory]
    [InlineData(1280, 900, false)]
    [InlineData(390, 844, true)]
    public async Task Docs_tables_never_split_a_token_and_the_page_never_scrolls_sideways(int width, int height, bool mobile)
    {
        await using var server = await TestHubServer.StartAsync();
        await using var page = await chromium.Browser.NewPageAsync();
        await page.SetViewportAsync(width, height, mobile);
        await page.NavigateAsync(new Uri(server.BaseAddress, "/docs").ToString());

        var report = await page.EvaluateAsync(TableLayoutProbe);
        var png = await page.ScreenshotAsync(fullPage: true);
        await File.WriteAllBytesAsync(Path.Combine(ChromiumFixture.ScreenshotDirectory, $"docs-{width}.png"), png);

        Assert.True(report.GetProperty("tables").GetInt32() >= 5, "the docs page should hold its tables");
        var problems = report.GetProperty("problems").EnumerateArray()
            .Select(p => $"table {p.GetProperty("table")}: token '{p.GetProperty("token").GetString()}' in a {p.GetProperty("cellWidth")} px cell " +
                         $"spans {p.GetProperty("lines")} lines (cell: {p.GetProperty("cell").GetString()})")
            .ToList();
        Assert.True(problems.Count == 0, $"At {width} px:\n" + string.Join("\n", problems));
        Assert.True(report.GetProperty("pageWidth").GetInt32() <= report.GetProperty("viewport").GetInt32(),
            $"At {width} px the page is {report.GetProperty("pageWidth")} px wide: it scrolls sideways.");
    }

    [Fact]
    public async Task The_probe_catches_a_path_split_across_lines()
    {
        // The probe itself must be able to fail: a one-character-wide column as in the original /docs.
        await using var page = await chromium.Browser.NewPageAsync();
        await page.SetViewportAsync(1280, 900);
        await page.NavigateAsync("data:text/html,<table style='width:300px'><tr><td style='overflow-wrap:anywhere;width:1px'>" +
                                 "POST /channels/{id}/broadcast</td><td>" + new string('x', 20) + " wide prose column</td></tr></table>");
        var report = await page.EvaluateAsync(TableLayoutProbe);
        var tokens = report.GetProperty("problems").EnumerateArray().Select(p => p.GetProperty("token").GetString()).ToList();
        Assert.Contains("/channels/{id}/broadcast", tokens);
    }
}
