using HeadWise.Eval;
using HeadWise.Eval.Tasks;
using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Steering;

/// <summary>
/// The development and test splits a steering is found and judged on: the same task grid, prompts drawn from disjoint
/// seeds (dev: the seed given, test: the next), each scored by the bench harness (full cache, greedy answers).
/// </summary>
public sealed class SteeringSplits
{
    private readonly LoadedModel _model;
    private readonly IEvalTask _task;
    private readonly IKvCacheFactory _cache = new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context);

    public SteeringSplits(LoadedModel model, IEvalTask task, TaskOptions grid, int dev, int test)
    {
        if (dev < 1 || test < 1) throw new HeadWiseException($"--dev and --test must each be >= 1 prompts (got {dev} and {test})");
        _model = model;
        _task = task;
        int cells = grid.Lengths.Count * (task.HasDepth ? grid.Depths.Count : 1);
        Dev = grid with { Samples = (dev + cells - 1) / cells };
        Test = grid with { Samples = (test + cells - 1) / cells, Seed = grid.Seed + 1 };
        BenchRunner.Validate(model.Spec, task, Dev);
        var devPrompts = task.Generate(model.Tokenizer, Dev).Select(s => string.Join(',', s.Tokens)).ToHashSet();
        int shared = task.Generate(model.Tokenizer, Test).Count(s => devPrompts.Contains(string.Join(',', s.Tokens)));
        if (shared > 0) throw new HeadWiseException($"the dev and test splits share {shared} prompts; choose a longer length or another --seed");
    }

    public TaskOptions Dev { get; }
    public TaskOptions Test { get; }

    /// <summary>The dev-split accuracy (the bench task's score) under <paramref name="hooks"/>: what the searches maximise.</summary>
    public double DevScore(HookSet? hooks) => BenchRunner.Run(_model, _task, Dev, _cache, hooks: hooks).Accuracy;

    /// <summary>Each test prompt's score under <paramref name="hooks"/> (null: unsteered), in grid order.</summary>
    public double[] TestScores(HookSet? hooks)
    {
        var r = BenchRunner.Run(_model, _task, Test, _cache, hooks: hooks);
        return r.Answers is { } a ? [.. a.Select(x => x.Score)] : [r.Accuracy];
    }

    /// <summary>Few-shot prompts for soft injection: <paramref name="shots"/> solved dev-grid prompts (answer appended) and one to answer, from a third seed.</summary>
    public List<int[]> FewShotPrompts(int count, int shots)
    {
        var o = Dev with { Samples = (count * (shots + 1) + Cells - 1) / Cells, Seed = Dev.Seed + 2 };
        var samples = _task.Generate(_model.Tokenizer, o).Take(count * (shots + 1)).ToList();
        var enc = new SegmentEncoder(_model.Tokenizer);
        int? bos = _model.Tokenizer.BosId;
        var prompts = new List<int[]>();
        for (int i = 0; i + shots < samples.Count; i += shots + 1)
        {
            var ids = new List<int>();
            for (int s = 0; s <= shots; s++)
            {
                var tokens = samples[i + s].Tokens;
                ids.AddRange(ids.Count > 0 && bos is { } b && tokens.Length > 0 && tokens[0] == b ? tokens[1..] : tokens);
                if (s < shots) ids.AddRange(enc.Encode(samples[i + s].Answer!));
            }
            if (ids.Count > _model.Spec.ContextLength)
                throw new HeadWiseException($"inject: {shots} shots of {Dev.Lengths.Max()} tokens make a {ids.Count}-token prompt, past the model's context of {_model.Spec.ContextLength}; use fewer shots or shorter --lengths");
            prompts.Add([.. ids]);
        }
        return prompts;
    }

    /// <summary>The dev prompts with their answer's first token, for learning injection weights.</summary>
    public List<(int[] Prompt, int Answer)> DevAnswers()
    {
        var enc = new SegmentEncoder(_model.Tokenizer);
        return [.. _task.Generate(_model.Tokenizer, Dev).Where(s => s.Answer is not null).Select(s => (s.Tokens, enc.Encode(s.Answer!)[0]))];
    }

    private int Cells => Dev.Lengths.Count * (_task.HasDepth ? Dev.Depths.Count : 1);
}
