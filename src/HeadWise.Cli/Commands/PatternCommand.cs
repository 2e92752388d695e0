using System.CommandLine;
using HeadWise.Analysis;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise pattern export|import`: the atlas's duo-gate map as DuoAttention's full_attention_heads.tsv and back.</summary>
internal static class PatternCommand
{
    public static Command Create()
    {
        var atlasOpt = new Option<string>("--atlas") { Description = "atlas.json", Required = true };
        var tsv = new Option<string>("--tsv") { Description = "DuoAttention full_attention_heads.tsv (config.json with the streaming pattern is written beside it)", Required = true };
        var export = new Command("export", "Write the atlas's duo-gate map as DuoAttention's TSV (one line per layer, one value per KV head) and its config.json (sink_size, recent_size)") { atlasOpt, tsv };
        export.SetAction(r => CliRun.Guard(() =>
        {
            var atlas = HeadAtlas.Load(r.GetValue(atlasOpt)!);
            var pattern = DuoPattern.FromAtlas(atlas);
            // The training record goes into config.json; the per-step loss and the gates themselves are already elsewhere.
            var training = (atlas.Params["duo-gate"] as System.Text.Json.Nodes.JsonObject)?.DeepClone().AsObject();
            training?.Remove("loss_curve");
            training?.Remove("kv_gates");
            pattern.Write(r.GetValue(tsv)!, training);
            Console.WriteLine($"wrote {r.GetValue(tsv)} ({atlas.Layers} layers x {atlas.KvHeads} KV heads; {pattern.Sinks} sinks + {pattern.Recent} recent)");
            return 0;
        }));
        var atlasIn = new Option<string>("--atlas") { Description = "atlas.json to update (its duo-gate map is replaced)", Required = true };
        var tsvIn = new Option<string>("--tsv") { Description = "DuoAttention full_attention_heads.tsv (its streaming pattern from config.json beside it; without one, 64 sinks + 256 recent)", Required = true };
        var import = new Command("import", "Read DuoAttention's TSV (and the config.json beside it) into the atlas's duo-gate map") { atlasIn, tsvIn };
        import.SetAction(r => CliRun.Guard(() =>
        {
            var path = r.GetValue(atlasIn)!;
            var atlas = HeadAtlas.Load(path);
            DuoPattern.Read(r.GetValue(tsvIn)!).IntoAtlas(atlas, r.GetValue(tsvIn)!);
            atlas.Save(path);
            Console.WriteLine($"imported {r.GetValue(tsvIn)} into {path}");
            return 0;
        }));
        return new Command("pattern", "Exchange DuoAttention head patterns (full_attention_heads.tsv)") { export, import };
    }
}
