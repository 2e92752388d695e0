using System.CommandLine;
using System.Text.Json;
using HeadWise.Heads;
using HeadWise.Heads.Attribution;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise attribute`: the heads that write the target token's logit (or target − contrast) directly, at the prompt's last position.</summary>
internal static class AttributeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var json = CommonOptions.Json();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Text; the next token after it is attributed", Required = true };
        var target = new Option<string>("--target") { Description = "Target token text (its first token, as it would continue the prompt)", Required = true };
        var contrast = new Option<string?>("--contrast") { Description = "Contrast token: attribute logit(target) - logit(contrast)" };
        var top = new Option<int>("--top") { Description = "Heads to list", DefaultValueFactory = _ => 10 };
        top.InRange(1, 1 << 20);
        var save = CommonOptions.SaveActivations();
        var command = new Command("attribute", "Direct logit attribution: the heads that most raise the target token's logit") { model, prompt, target, contrast, top, json, save };
        foreach (var o in load.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r), r.GetValue(prompt)!, r.GetValue(target)!,
            r.GetValue(contrast), r.GetValue(top), r.GetValue(json), r.GetValue(save))));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string prompt, string targetText, string? contrastText, int top, string? jsonPath, string? save)
    {
        if (top < 1) throw new HeadWiseException($"--top must be >= 1, got {top}");
        OutputPaths.CheckFileFolder(jsonPath, "--json");
        OutputPaths.CheckFileFolder(save, "--save-activations");
        using var m = ModelLoader.Load(path, loadOptions);
        var tok = m.Tokenizer;
        var ids = tok.Encode(prompt, addBos: tok.AddBosByDefault);
        if (ids.Count == 0) throw new HeadWiseException("the prompt encodes to no tokens");
        if (ids.Count > m.Spec.ContextLength) throw new HeadWiseException($"the prompt is {ids.Count} tokens but the model's context is {m.Spec.ContextLength}");
        int target = ContinuationToken(tok, prompt, ids.Count, targetText, "--target");
        int? contrast = contrastText is null ? null : ContinuationToken(tok, prompt, ids.Count, contrastText, "--contrast");
        using var scope = torch.NewDisposeScope();
        var tokens = torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        var dla = DirectLogitAttribution.Compute(m.Transformer, tokens, target, contrast);
        string what = contrast is null ? $"logit('{tok.TokenLabel(target)}')" : $"logit('{tok.TokenLabel(target)}') - logit('{tok.TokenLabel(contrast.Value)}')";
        Console.WriteLine($"{what} = {dla.Logit:F4} at the last of {ids.Count} tokens; components sum to {dla.Sum:F4}");
        var heads = dla.TopHeads(top).ToList();
        Console.WriteLine($"{"head",-8} {"direct attribution",18}");
        foreach (var c in heads) Console.WriteLine($"{c.Layer}.{c.Head,-6} {c.Value,18:F4}");
        var other = dla.Components.Where(c => c.Head is null).OrderByDescending(c => Math.Abs(c.Value)).Take(3);
        Console.WriteLine("largest other components: " + string.Join(", ", other.Select(c => $"{c.Name} {c.Value:F4}")));
        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new
            {
                model = m.DisplayName, prompt, target, target_token = tok.TokenLabel(target), contrast, contrast_token = contrast is { } c2 ? tok.TokenLabel(c2) : null,
                position = dla.Position, logit = dla.Logit, components_sum = dla.Sum,
                top_heads = heads.Select(h => new { layer = h.Layer, head = h.Head, value = h.Value }),
                heads = Enumerable.Range(0, m.Spec.Layers).Select(l => Enumerable.Range(0, m.Spec.Heads).Select(h => dla.Heads[l, h]).ToArray()),
                components = dla.Components.Select(x => new { name = x.Name, value = x.Value }),
            }, JsonOptions.Indented));
        if (save is not null)
        {
            // What direct logit attribution reads: each head's output, the residual stream and the final norm's scale.
            var (_, cache) = m.Transformer.RunWithCache(tokens, n => n.EndsWith("attn.hook_result") || n.EndsWith("hook_resid_post") || n == HookNames.FinalScale);
            using var _c = cache;
            ActivationExport.Save(save, cache, m, prompt, m.ToStrTokens(tokens));
        }
        return 0;
    }

    /// <summary>The first token of <paramref name="text"/> as it would follow the prompt (so " Lily" and "Lily" differ as the tokenizer says).</summary>
    private static int ContinuationToken(Tokenizers.ITokenizer tok, string prompt, int promptTokens, string text, string option)
    {
        if (text.Length == 0) throw new HeadWiseException($"{option} is empty");
        var joined = tok.Encode(prompt + text, addBos: tok.AddBosByDefault);
        if (joined.Count > promptTokens && joined.Take(promptTokens).SequenceEqual(tok.Encode(prompt, addBos: tok.AddBosByDefault)))
            return joined[promptTokens];
        var alone = tok.Encode(text, addBos: false);
        if (alone.Count == 0) throw new HeadWiseException($"{option} '{text}' encodes to no tokens");
        return alone[0];
    }
}
