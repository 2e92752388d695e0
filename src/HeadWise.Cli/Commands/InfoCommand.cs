using System.CommandLine;
using System.Text.Json;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise info`: what a checkpoint is (architecture, shape, vocabulary, parameters) and, with --kv, the KV cache each policy keeps.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var json = CommonOptions.Json();
        var kvSizes = new Option<bool>("--kv") { Description = "Also list the KV cache each policy keeps at --context tokens (in --json too)" };
        var context = new Option<int?>("--context") { Description = "Context length for --kv (default: the model's)" };
        var kv = new KvOptions();
        context.InRange(1, 1 << 24);
        var command = new Command("info", "Describe a model: architecture, layers, heads, KV heads, sizes, parameters, tokenizer") { model, json, kvSizes, context };
        foreach (var o in load.All) command.Options.Add(o);
        foreach (var o in kv.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() =>
        {
            var jsonPath = r.GetValue(json);
            OutputPaths.CheckFileFolder(jsonPath, "--json");
            using var m = ModelLoader.Load(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r));
            var info = Describe(m);
            Print(info);
            var table = r.GetValue(kvSizes) ? KvInfo.Table(m.Spec, r.GetValue(context), r, kv) : null;
            if (table is not null) KvInfo.Print(table);
            if (jsonPath is not null) File.WriteAllText(jsonPath, JsonSerializer.Serialize(info with { Kv = table }, JsonOptions.Indented));
            return 0;
        }));
        return command;
    }

    private static ModelInfo Describe(LoadedModel m)
    {
        var s = m.Spec;
        return new ModelInfo(m.DisplayName, m.Format, s.Architecture, s.Layers, s.Heads, s.KvHeads, s.HeadDim, s.Dim, s.FfnDim,
            s.VocabSize, s.ContextLength, m.Transformer.Weights.ParameterCount, s.WeightType, s.Compute.Name(), m.Transformer.Weights.Bytes, m.Tokenizer.Kind,
            s.Positions == PositionKind.Rope ? $"rope ({s.Rope.ToString().ToLowerInvariant()}, theta {s.RopeTheta:g})" : "learned",
            s.Causal ? "decoder" : "encoder");
    }

    private static void Print(ModelInfo info)
    {
        Console.WriteLine($"model            {info.Name} ({info.Format})");
        Console.WriteLine($"architecture     {info.Architecture} {info.Kind}");
        Console.WriteLine($"layers           {info.Layers}");
        Console.WriteLine($"heads            {info.Heads} query, {info.KvHeads} KV (head size {info.HeadSize})");
        Console.WriteLine($"hidden size      {info.HiddenSize} (feed-forward {info.FeedForwardSize})");
        Console.WriteLine($"vocabulary       {info.Vocabulary} ({info.Tokenizer} tokenizer)");
        Console.WriteLine($"context length   {info.ContextLength}");
        Console.WriteLine($"positions        {info.Positions}");
        Console.WriteLine($"parameters       {info.Parameters:N0}");
        Console.WriteLine($"tensor dtype     {info.TensorDtype}");
        Console.WriteLine($"compute dtype    {info.ComputeDtype} ({info.WeightBytes / 1048576.0:N1} MiB of weights in memory)");
    }

    private sealed record ModelInfo(string Name, string Format, string Architecture, int Layers, int Heads, int KvHeads, int HeadSize,
        int HiddenSize, int FeedForwardSize, int Vocabulary, int ContextLength, long Parameters, string TensorDtype, string ComputeDtype, long WeightBytes, string Tokenizer,
        string Positions, string Kind)
    {
        public KvInfo.KvTable? Kv { get; init; }
    }
}

internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
