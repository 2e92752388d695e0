using System.CommandLine;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Reports;
using TorchSharp;

namespace HeadWise.Cli.Commands;

/// <summary>
/// `headwise attention`: a prompt's attention patterns as an interactive page (--html: every layer, or the one asked for;
/// pick layer and head, hover a token for its row) and/or a PNG heatmap (one head, or every head of a layer as a grid).
/// </summary>
internal static class AttentionCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text whose attention to show", Required = true };
        var layer = new Option<int?>("--layer", "-l") { Description = "Layer (0-based); --png needs it, --html shows every layer without it" };
        var head = new Option<int?>("--head") { Description = "Query head (0-based) for --png; without it, every head of the layer as a grid" };
        var html = new Option<string?>("--html") { Description = "Interactive page to write (self-contained): pick layer and head, hover a token to see its attention row" };
        var png = new Option<string?>("--png") { Description = "PNG heatmap to write, with token labels" };
        var save = CommonOptions.SaveActivations();
        layer.InRange(0, Models.ModelSpec.MaxLayers - 1);
        var command = new Command("attention", "Show attention patterns: an interactive HTML page and/or a PNG heatmap") { model, prompt, layer, head, html, png, save };
        foreach (var o in load.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r), r.GetValue(prompt)!, r.GetValue(layer), r.GetValue(head),
            r.GetValue(html), r.GetValue(png), r.GetValue(save))));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string prompt, int? layer, int? head, string? html, string? png, string? save)
    {
        if (html is null && png is null && save is null) throw new HeadWiseException("give --html FILE, --png FILE or --save-activations FILE");
        if (png is not null && layer is null) throw new HeadWiseException("--png needs --layer");
        if (head is not null && png is null) throw new HeadWiseException("--head picks the head of --png (the --html page has a head picker)");
        OutputPaths.CheckFileFolder(html, "--html");
        OutputPaths.CheckFileFolder(png, "--png");
        OutputPaths.CheckFileFolder(save, "--save-activations");
        using var m = ModelLoader.Load(path, loadOptions);
        var s = m.Spec;
        if (layer is < 0 || layer >= s.Layers) throw new HeadWiseException($"--layer {layer} is out of range: the model has layers 0..{s.Layers - 1}");
        if (head is < 0 || head >= s.Heads) throw new HeadWiseException($"--head {head} is out of range: the model has heads 0..{s.Heads - 1}");
        using var scope = torch.NewDisposeScope();
        var tokens = m.ToTokens(prompt);
        var labels = m.ToStrTokens(tokens);
        int[] layers = layer is { } one ? [one] : [.. Enumerable.Range(0, s.Layers)];
        var names = layers.Select(l => HookNames.ForLayer(l).Pattern).ToList();
        var (_, cache) = m.Transformer.RunWithCache(tokens, names.Select(n => new CaptureSpec(n)));
        using var __ = cache;
        string title = m.DisplayName;
        if (html is not null)
        {
            AttentionReport.Write(html, title, prompt, labels, layers, names.Select(n => Pattern(cache[n][0])).ToList());
            Console.WriteLine($"wrote {html} ({labels.Length} tokens, {(layer is null ? $"all {s.Layers} layers" : $"layer {layer}")}, {s.Heads} heads)");
        }
        if (png is not null)
        {
            var pattern = cache[names[0]][0]; // [heads, T, S]
            double[,] Grid(int i) => ToArray(pattern[i]);
            if (head is { } h) HeatmapPlot.SaveHead(png, Grid(h), labels, labels, $"{title}: layer {layer}, head {h}");
            else HeatmapPlot.SaveGrid(png, Enumerable.Range(0, s.Heads).Select(i => (Grid(i), $"{title}: layer {layer}, head {i}")).ToList(), labels, labels);
            Console.WriteLine($"wrote {png} ({labels.Length} tokens, layer {layer}, {(head is null ? $"all {s.Heads} heads" : $"head {head}")})");
        }
        if (save is not null) ActivationExport.Save(save, cache, m, prompt, labels);
        return 0;
    }

    /// <summary>[heads, T, S] → [head][query][key].</summary>
    private static float[][][] Pattern(torch.Tensor p)
    {
        int h = (int)p.shape[0], t = (int)p.shape[1], k = (int)p.shape[2];
        var flat = p.to(torch.ScalarType.Float32).contiguous().data<float>().ToArray();
        return Enumerable.Range(0, h).Select(i => Enumerable.Range(0, t).Select(q => flat.AsSpan((i * t + q) * k, k).ToArray()).ToArray()).ToArray();
    }

    private static double[,] ToArray(torch.Tensor p)
    {
        var data = p.to(torch.ScalarType.Float64).data<double>().ToArray();
        int t = (int)p.shape[0], s = (int)p.shape[1];
        var a = new double[t, s];
        Buffer.BlockCopy(data, 0, a, 0, data.Length * sizeof(double));
        return a;
    }
}
