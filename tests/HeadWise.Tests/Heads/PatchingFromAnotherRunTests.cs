using HeadWise.Heads;
using HeadWise.Heads.Attribution;
using HeadWise.Heads.Interventions;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>
/// Patching measured between two different runs (a clean and a corrupted prompt), so that a patch which does nothing
/// cannot pass: patching a run with its own activations recovers everything whatever the patch does.
/// </summary>
public class PatchingFromAnotherRunTests
{
    private static (Tensor Clean, Tensor Corrupted) Prompts()
    {
        var clean = TinyModels.Tokens(6);
        var corrupted = clean.clone();
        corrupted[0, 1] = (clean[0, 1].ToInt64() % 60) + 2; // one token differs, early, so every later position sees it
        return (clean, corrupted);
    }

    [Theory]
    [InlineData("llama", 0, 3)] // GQA: query head 3 shares its KV head with head 2
    [InlineData("gpt2", 1, 1)]
    public void Patching_one_head_from_a_corrupted_run_changes_that_head_and_no_other(string family, int layer, int head)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var (clean, corrupted) = Prompts();
        var z = HookNames.ForLayer(layer).Z;
        var (cleanLogits, cleanCache) = model.RunWithCache(clean, [new CaptureSpec(z)]);
        var (_, corruptedCache) = model.RunWithCache(corrupted, [new CaptureSpec(z)]);
        using var a = cleanCache; using var b = corruptedCache;
        Assert.False(cleanCache[z][.., .., head].allclose(corruptedCache[z][.., .., head], 1e-4, 1e-5)); // the runs differ there

        // The capture is added after the patch, so it records what the rest of the model reads.
        var patch = new HookSet().Add(ActivationPatch.From(corruptedCache, z, heads: [head]));
        var (patchedLogits, patched) = model.RunWithCache(clean, [new CaptureSpec(z)], patch);
        using var c = patched;
        Assert.True(patched[z][.., .., head].Same(corruptedCache[z][.., .., head]));
        for (int h = 0; h < model.Spec.Heads; h++)
            if (h != head) Assert.True(patched[z][.., .., h].Same(cleanCache[z][.., .., h]), $"head {h} changed");
        Assert.False(patchedLogits.allclose(cleanLogits, 1e-5, 1e-6)); // and the change reaches the output
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void The_head_sweep_between_two_runs_matches_patching_each_head_by_hand(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var (clean, corrupted) = Prompts();
        const int target = 3, contrast = 4;
        var sweep = PatchingSweep.Heads(model, clean, corrupted, target, contrast);
        Assert.NotEqual(sweep.Clean, sweep.Corrupted);

        // The reference: a plain hook that copies one head's slice of the clean hook_z into the corrupted run.
        int moved = 0;
        for (int l = 0; l < model.Spec.Layers; l++)
        {
            var z = HookNames.ForLayer(l).Z;
            var (_, cache) = model.RunWithCache(clean, [new CaptureSpec(z)]);
            using var _c = cache;
            for (int h = 0; h < model.Spec.Heads; h++)
            {
                using var s = torch.NewDisposeScope();
                var source = cache[z];
                int head = h;
                var hooks = new HookSet().Add(z, x => { var y = x.clone(); y[.., .., head] = source[.., .., head]; return y; });
                double expected = LogitDirection.Metric(model.RunWithHooks(corrupted, hooks), target, contrast, clean.shape[1] - 1);
                Assert.Equal(expected, sweep.Patched[l, h], 5);
                Assert.Equal((expected - sweep.Corrupted) / (sweep.Clean - sweep.Corrupted), sweep.Recovery[l, h], 5);
                if (Math.Abs(expected - sweep.Corrupted) > 1e-4) moved++;
            }
        }
        Assert.True(moved >= model.Spec.Heads, $"only {moved} head patches moved the metric: the case cannot tell a patch from none");
    }
}
