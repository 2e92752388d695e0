using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// DuoAttention's learned gates. Each KV head has a gate a in [0, 1] that mixes its full attention with streaming attention
/// (sinks + recent window, renormalised): A = a A_full + (1 - a) A_stream, applied at hook_pattern. The gates alone are
/// optimised (Adam) on synthetic passkey sequences to keep the final hidden states of the full model (MSE over the answer
/// region) with an L1 push toward streaming; they are clamped to [0, 1] after each step as in DuoAttention. The passkey
/// is worded as the evaluation harness words it (<see cref="Prompts.PromptWording.Passkey"/>).
/// The map repeats each KV head's gate over its query heads; the parameters hold the gates per KV head and the loss curve.
/// </summary>
public sealed class DuoGateScore(int steps = 40, double lr = 0.05, double l1 = 0.05, int sinks = 2, int recent = 16, int samples = 4, int tail = 16) : IHeadScore
{
    public string Name => "duo-gate";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs causal streaming attention (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        var (gates, curve) = Optimise(ctx);
        int group = ctx.Spec.GroupSize;
        var values = gates.Select(row => Enumerable.Range(0, ctx.Spec.Heads).Select(h => row[h / group]).ToArray()).ToArray();
        return [new HeadMap(Name, values, new JsonObject
        {
            ["steps"] = steps, ["lr"] = lr, ["l1"] = l1, ["sinks"] = sinks, ["recent"] = recent, ["samples"] = samples, ["tail"] = tail,
            ["kv_gates"] = new JsonArray(gates.Select(r => (JsonNode)new JsonArray(r.Select(v => (JsonNode)v).ToArray())).ToArray()),
            ["loss_curve"] = new JsonArray(curve.Select(v => (JsonNode)v).ToArray()),
        })];
    }

    /// <summary>Learned gates [layer][kv head] and the loss after each step.</summary>
    public (double[][] Gates, double[] Loss) Optimise(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, kv = ctx.Spec.KvHeads, group = ctx.Spec.GroupSize;
        torch.manual_seed(ctx.Seed);
        using var ids = PasskeyBatch(ctx);
        long t = ids.shape[1];
        int lastLayer = layers - 1;
        using var mask = StreamingMask(t, sinks, recent);
        Tensor Hidden(HookSet hooks)
        {
            Tensor? h = null;
            hooks.Add(HookNames.ForLayer(lastLayer).ResidPost, x => { h = x.narrow(1, t - tail, tail).MoveToOuterDisposeScope(); return x; });
            using (ctx.Model.Forward(ids, null, hooks)) { }
            return h!;
        }
        using var target = Hidden(ctx.NewHooks()).detach();
        using var gate = new TorchSharp.Modules.Parameter(torch.ones(layers, kv));
        var hooks = ctx.NewHooks();
        for (int l = 0; l < layers; l++)
        {
            int layer = l;
            hooks.Add(HookNames.ForLayer(l).Pattern, p =>
            {
                var a = gate.select(0, layer).repeat_interleave(group).view(1, -1, 1, 1);
                var stream = p * mask;
                stream = stream / stream.sum(-1, keepdim: true).clamp_min(HeldScalars.ProbabilityFloor);
                return a * p + (1 - a) * stream;
            });
        }
        using var opt = torch.optim.Adam([gate], lr);
        var curve = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            using var scope = torch.NewDisposeScope();
            opt.zero_grad();
            var h = Hidden(hooks.Copy());
            var loss = (h - target).pow(HeldScalars.Two).mean() + l1 * gate.abs().mean();
            loss.backward();
            opt.step();
            using (torch.no_grad()) gate.clamp_(0, 1);
            curve[s] = loss.item<float>();
            if (s % 10 == 0 || s == steps - 1) ctx.Progress($"duo-gate: step {s + 1}/{steps} loss {curve[s]:g4}");
        }
        var g = gate.detach().to_type(ScalarType.Float64).data<double>().ToArray();
        return (Enumerable.Range(0, layers).Select(l => g.Skip(l * kv).Take(kv).ToArray()).ToArray(), curve);
    }

    /// <summary>[T, T] with 1 where a streaming head may look: the first <paramref name="sinks"/> keys and the last <paramref name="recent"/>.</summary>
    internal static Tensor StreamingMask(long t, int sinks, int recent)
    {
        var q = torch.arange(t).unsqueeze(1);
        var k = torch.arange(t).unsqueeze(0);
        return (k.lt(sinks).logical_or((q - k).lt(recent))).logical_and(k.le(q)).to_type(ScalarType.Float32);
    }

    /// <summary>Passkey sequences as long as the probes: filler from a probe, a key sentence at a seeded depth, and the key asked for at the end.</summary>
    private Tensor PasskeyBatch(ProfileContext ctx)
    {
        var rng = new Random(ctx.Seed);
        var form = Prompts.PromptWording.Passkey.EvaluationForm;
        int len = ctx.Probes[0].Length;
        if (len < tail + recent + 8) throw new HeadWiseException($"duo-gate needs probes of at least {tail + recent + 8} tokens; they have {len}");
        var rows = new List<long>();
        for (int i = 0; i < samples; i++)
        {
            int key = rng.Next(10000, 99999);
            var keyIds = ctx.Tokenizer?.Encode(" " + form.NeedleFor("", key.ToString()), false).ToArray()
                         ?? Enumerable.Range(0, 8).Select(_ => rng.Next(1, ctx.Spec.VocabSize)).ToArray();
            var askIds = ctx.Tokenizer?.Encode($" {form.QuestionFor("")} {key}.", false).ToArray()
                         ?? keyIds;
            var filler = ctx.Probes[i % ctx.Probes.Count];
            int fill = len - keyIds.Length - askIds.Length;
            if (fill < 2) throw new HeadWiseException($"duo-gate: probes of {len} tokens leave no room for the passkey text");
            int depth = 1 + rng.Next(fill - 1);
            var seq = filler.Take(depth).Concat(keyIds).Concat(filler.Skip(depth).Take(fill - depth)).Concat(askIds).ToArray();
            rows.AddRange(seq.Select(x => (long)x));
        }
        return torch.tensor(rows.ToArray(), [samples, len]);
    }
}
