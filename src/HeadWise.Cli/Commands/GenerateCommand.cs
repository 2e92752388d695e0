using System.CommandLine;
using HeadWise.Generation;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise generate`: stream a continuation to stdout (and only the text; diagnostics go to stderr).</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Text to continue (default: start from BOS)" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<double>("--temperature", "-t") { Description = "0 = greedy (deterministic)", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass", DefaultValueFactory = _ => 0.9 };
        var seed = new Option<int>("--seed") { Description = "Sampling seed", DefaultValueFactory = _ => 42 };
        maxTokens.InRange(0, 1 << 24);
        temperature.InRange(0, 100);
        topP.InRange(0, 1, minExclusive: true);
        var kv = new KvOptions();
        var command = new Command("generate", "Generate text from a prompt (or from BOS)") { model, prompt, maxTokens, temperature, topP, seed };
        foreach (var o in load.All) command.Options.Add(o);
        foreach (var o in kv.All.Append(kv.Compress)) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r), r.GetValue(prompt), r.GetValue(maxTokens),
            new Sampler(r.GetValue(temperature), r.GetValue(topP), r.GetValue(seed)), kv.ReadCompress(r), spec => kv.Create(r, spec))));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string? prompt, int maxTokens, Sampler sampler, KvCache.CompressMode compress,
        Func<ModelSpec, KvCache.KvPolicy?> policyFor)
    {
        if (maxTokens < 0) throw new HeadWiseException($"--max-tokens must be >= 0, got {maxTokens}");
        using var m = ModelLoader.Load(path, loadOptions);
        var policy = policyFor(m.Spec);
        var tok = m.Tokenizer;
        var ids = tok.Encode(prompt ?? "", addBos: true).ToList();
        if (ids.Count == 0) throw new HeadWiseException("the model has no BOS token; give a --prompt");
        // Past the context only under a policy that keeps attended positions within it (longheads).
        long limit = policy?.LengthLimit ?? m.Spec.ContextLength;
        if (ids.Count >= limit)
            throw new HeadWiseException(limit > m.Spec.ContextLength
                ? $"the prompt is {ids.Count} tokens but {policy!.Name}'s limit is {limit}"
                : $"the prompt is {ids.Count} tokens but the model's context is {m.Spec.ContextLength}");
        var started = DateTime.UtcNow;
        Console.Write(prompt ?? "");
        var streamer = new TextStreamer(tok, ids);
        var stdout = Console.Out;
        int budget = (int)Math.Min(maxTokens, limit - ids.Count);
        var output = new Generator(m.Transformer).Generate(ids, budget, sampler, tok.EosId, id =>
        {
            stdout.Write(streamer.Push(id));
            stdout.Flush();
        }, policy, compress);
        Console.WriteLine();
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        Console.Error.WriteLine($"[{output.Count} tokens in {seconds:F2} s, {output.Count / Math.Max(seconds, 1e-9):F1} tokens/s]");
        return 0;
    }
}
