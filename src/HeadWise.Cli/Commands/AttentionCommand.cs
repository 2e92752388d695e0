using System.CommandLine;
using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Reports;
using TorchSharp;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise attention`: draw one head's attention pattern on a prompt (or every head of a layer as a grid).</summary>
internal static class AttentionCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text whose attention to draw", Required = true };
        var layer = new Option<int>("--layer", "-l") { Description = "Layer (0-based)", Required = true };
        var head = new Option<int?>("--head") { Description = "Query head (0-based); omit for every head of the layer as a grid" };
        var png = new Option<string>("--png") { Description = "PNG file to write", Required = true };
        layer.InRange(0, Models.ModelSpec.MaxLayers - 1);
        var command = new Command("attention", "Draw an attention pattern as a heatmap with token labels") { model, prompt, layer, head, png };
        foreach (var o in load.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(r.GetValue(model)!, load.Get(r), r.GetValue(prompt)!, r.GetValue(layer), r.GetValue(head), r.GetValue(png)!)));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string prompt, int layer, int? head, string png)
    {
        using var m = ModelLoader.Load(path, loadOptions);
        var s = m.Spec;
        if (layer < 0 || layer >= s.Layers) throw new HeadWiseException($"--layer {layer} is out of range: the model has layers 0..{s.Layers - 1}");
        if (head is < 0 || head >= s.Heads) throw new HeadWiseException($"--head {head} is out of range: the model has heads 0..{s.Heads - 1}");
        var ids = m.Tokenizer.Encode(prompt, addBos: m.Tokenizer.AddBosByDefault);
        if (ids.Count == 0) throw new HeadWiseException("the prompt encodes to no tokens");
        if (ids.Count > s.ContextLength) throw new HeadWiseException($"the prompt is {ids.Count} tokens but the model's context is {s.ContextLength}");
        var labels = ids.Select(m.Tokenizer.TokenLabel).ToList();
        using var scope = torch.NewDisposeScope();
        var tokens = torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        var name = HookNames.ForLayer(layer).Pattern;
        var capture = head is { } h ? new CaptureSpec(name, [h]) : new CaptureSpec(name);
        var (_, cache) = m.Transformer.RunWithCache(tokens, [capture]);
        using var __ = cache;
        var pattern = cache[name][0]; // [heads, T, S]
        double[,] Grid(int i) => ToArray(pattern[i]);
        string model = m.DisplayName;
        if (head is { } one) HeatmapPlot.SaveHead(png, Grid(0), labels, labels, $"{model}: layer {layer}, head {one}");
        else HeatmapPlot.SaveGrid(png, Enumerable.Range(0, s.Heads).Select(i => (Grid(i), $"{model}: layer {layer}, head {i}")).ToList(), labels, labels);
        Console.WriteLine($"wrote {png} ({ids.Count} tokens, layer {layer}, {(head is null ? $"all {s.Heads} heads" : $"head {head}")})");
        return 0;
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
