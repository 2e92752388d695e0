using HeadWise.Heads.Interventions;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Attribution;

/// <summary>
/// Activation patching results: for each (layer, head) or (layer, position), the metric after patching that piece of the clean
/// run into the corrupted run, and the normalised recovery (patched − corrupted) / (clean − corrupted).
/// </summary>
/// <param name="Axis">"head" or "position".</param>
/// <param name="Clean">The clean run's logit difference.</param>
/// <param name="Corrupted">The corrupted run's logit difference.</param>
/// <param name="Patched">The logit difference with each cell patched from the clean run.</param>
/// <param name="Recovery">(patched - corrupted) / (clean - corrupted) per cell.</param>
public sealed record PatchingResult(string Axis, double Clean, double Corrupted, double[,] Patched, double[,] Recovery);

/// <summary>Activation-patching sweeps with the logit difference (target − contrast) at the last position as the metric.</summary>
public static class PatchingSweep
{
    /// <summary>Patches each head's hook_z from the clean run.</summary>
    public static PatchingResult Heads(Transformer model, Tensor clean, Tensor corrupted, int target, int contrast) =>
        Sweep(model, clean, corrupted, target, contrast, "head", model.Spec.Heads,
            l => HookNames.ForLayer(l).Z, (name, src, i) => new ActivationPatch(name, src, heads: [i]));

    /// <summary>Patches the residual stream entering each layer (hook_resid_pre) at each position from the clean run.</summary>
    public static PatchingResult Positions(Transformer model, Tensor clean, Tensor corrupted, int target, int contrast) =>
        Sweep(model, clean, corrupted, target, contrast, "position", (int)clean.shape[1],
            l => HookNames.ForLayer(l).ResidPre, (name, src, i) => new ActivationPatch(name, src, positions: [i]));

    /// <summary>Recovery; when clean and corrupted agree there is nothing to recover: 1 if the patched run agrees too.</summary>
    public static double Recovery(double patched, double clean, double corrupted) =>
        clean != corrupted ? (patched - corrupted) / (clean - corrupted) : patched == clean ? 1.0 : double.NaN;

    private static PatchingResult Sweep(Transformer model, Tensor clean, Tensor corrupted, int target, int contrast, string axis, int width,
        Func<int, string> point, Func<string, Tensor, int, IIntervention> patch)
    {
        if (!clean.shape.SequenceEqual(corrupted.shape) || clean.shape[0] != 1)
            throw new HeadWiseException($"clean [{string.Join(", ", clean.shape)}] and corrupted [{string.Join(", ", corrupted.shape)}] prompts must be one row of the same length");
        LogitDirection.Of(model, target, contrast); // validates the ids
        int layers = model.Spec.Layers;
        long last = clean.shape[1] - 1;
        var names = Enumerable.Range(0, layers).Select(point).ToList();
        var (cleanLogits, cache) = model.RunWithCache(clean, names.Select(n => new CaptureSpec(n)));
        using var _ = cache;
        double cleanMetric, corruptedMetric;
        using (var s = torch.NewDisposeScope())
        {
            cleanMetric = LogitDirection.Metric(cleanLogits, target, contrast, last);
            cleanLogits.Dispose();
            corruptedMetric = LogitDirection.Metric(model.Forward(corrupted), target, contrast, last);
        }
        var patched = new double[layers, width];
        var recovery = new double[layers, width];
        for (int l = 0; l < layers; l++)
            for (int i = 0; i < width; i++)
            {
                using var scope = torch.NewDisposeScope();
                var hooks = new HookSet().Add(patch(names[l], cache[names[l]], i));
                patched[l, i] = LogitDirection.Metric(model.RunWithHooks(corrupted, hooks), target, contrast, last);
                recovery[l, i] = Recovery(patched[l, i], cleanMetric, corruptedMetric);
            }
        return new PatchingResult(axis, cleanMetric, corruptedMetric, patched, recovery);
    }
}
