using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Tests.Cli;
using SkiaSharp;
using TorchSharp;
using Xunit.Abstractions;

namespace HeadWise.Tests.Browser;

/// <summary>
/// The interactive reports in a real headless Chromium: the attention page shows, for a hovered token, the attention row
/// the model computes (checked against the library's own pattern), the atlas page shows a hovered head's scores as
/// atlas.json holds them, every map links to its definition and paper, no console error appears, and the screenshots are
/// not blank.
/// </summary>
public class ReportPageTests(ITestOutputHelper output)
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside. One day, Lily saw a big dog.";

    [Fact]
    public void Attention_page_hovering_a_token_shows_its_attention_row()
    {
        var dir = TestPaths.NewTempDir("hw-attn-page");
        var page = Path.Combine(dir, "attention.html");
        var r = CliProcess.Run("attention", "--model", TestPaths.Stories260KGguf, "--prompt", Prompt, "--html", page);
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var browser = new HeadlessChromium(page);
        browser.Select("#layer", "4");
        browser.Select("#head", "2");
        const int query = 20;
        browser.Hover($".tok[data-i=\"{query}\"]");
        var shown = browser.Evaluate("[...document.querySelectorAll('.tok')].map(e => e.dataset.w === undefined ? null : +e.dataset.w)")!.AsArray()
            .Select(v => v?.GetValue<double>()).ToArray();
        var panel = browser.Evaluate("document.getElementById('row').textContent")!.GetValue<string>();
        output.WriteLine(panel);

        // Independent of the page: the library's pattern for layer 4, head 2, query 20.
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        using var scope = torch.NewDisposeScope();
        var tokens = m.ToTokens(Prompt);
        var (_, cache) = m.Transformer.RunWithCache(tokens, [CaptureSpec.Pattern(4, 2)]);
        using var _c = cache;
        var row = cache[HookNames.ForLayer(4).Pattern][0, 0, query].data<float>().ToArray();
        Assert.Equal(row.Length, shown.Length);
        for (int k = 0; k < row.Length; k++)
            Assert.True(Math.Abs(shown[k]!.Value - row[k]) <= 0.5 / 255 + 0.005 + 1e-9, $"key {k}: page {shown[k]}, model {row[k]}");
        int top = Array.IndexOf(row, row.Max());
        Assert.Contains($"query {query}", panel);
        Assert.Contains($"{top} {m.ToStrTokens(tokens)[top].Replace("\n", "\\n")} {row[top]:F2}", panel); // the largest weight leads the list
        Assert.Empty(browser.Errors());
        AssertNotBlank(browser.Screenshot(), Path.Combine(dir, "attention.png"));
    }

    [Fact]
    public void Atlas_page_hovering_a_head_shows_its_scores_and_every_map_links_to_its_definition()
    {
        var dir = TestPaths.NewTempDir("hw-atlas-page");
        var r = CliProcess.Run("profile", "--model", TestPaths.Stories260KGguf, "--scores", "sink,entropy,locality", "--out", dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var atlas = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "atlas.json")))!;

        using var browser = new HeadlessChromium(Path.Combine(dir, "index.html"));
        browser.Hover("#maps .card:first-child td[data-l=\"3\"][data-h=\"5\"]");
        var scores = browser.Evaluate("Object.fromEntries([...document.querySelectorAll('#head .score')].map(e => [e.dataset.map, e.textContent]))")!.AsObject();
        output.WriteLine(string.Join(" | ", scores.Select(kv => kv.Value!.GetValue<string>())));
        var maps = atlas["scores"]!.AsObject();
        Assert.Equal(maps.Select(kv => kv.Key).Order(), scores.Select(kv => kv.Key).Order()); // sink, entropy, waad, fai
        foreach (var (name, values) in maps)
        {
            double v = values![3]![5]!.GetValue<double>();
            var text = scores[name]!.GetValue<string>();
            Assert.Contains(Format(v), text);
        }
        // Each map's heading links to its definition, and each definition names its paper (entropy is a plain statistic).
        var defs = browser.Evaluate("[...document.querySelectorAll('#maps h3 a')].map(a => { const d = document.querySelector(a.getAttribute('href')); " +
                                    "return [a.textContent, d ? d.nextElementSibling.textContent : null, d ? (d.nextElementSibling.querySelector('a') || {}).href || '' : null]; })")!.AsArray();
        Assert.Equal(4, defs.Count);
        foreach (var d in defs)
        {
            var (name, text, link) = (d![0]!.GetValue<string>(), d[1]?.GetValue<string>(), d[2]?.GetValue<string>());
            Assert.False(string.IsNullOrEmpty(text), $"{name} has no definition");
            if (name != "entropy") Assert.StartsWith("https://arxiv.org/abs/", link);
        }
        Assert.Empty(browser.Errors());
        AssertNotBlank(browser.Screenshot(), Path.Combine(dir, "atlas.png"));
    }

    /// <summary>The page's number format (fmt in HtmlPage).</summary>
    private static string Format(double v) =>
        Math.Abs(v) >= 100 ? v.ToString("F0") : Math.Abs(v) >= 1 ? v.ToString("F2") : v.ToString("F3");

    /// <summary>A rendered page, not an empty or single-colour one: many colours and a good share of non-white pixels.</summary>
    private void AssertNotBlank(byte[] png, string keep)
    {
        File.WriteAllBytes(keep, png);
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        var (colours, ink) = PngInk.Measure(bitmap);
        output.WriteLine($"screenshot {bitmap.Width}x{bitmap.Height}: {colours} colours, {100 * ink:F1}% non-white ({keep})");
        Assert.True(colours >= 50, $"only {colours} colours");
        Assert.True(ink > 1.0 / 20, $"only {100 * ink:F1}% of the screenshot is not white");
    }
}
