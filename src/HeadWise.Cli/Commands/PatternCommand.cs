using System.CommandLine;
using HeadWise.Analysis;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise pattern export|import`: the atlas's duo-gate map as DuoAttention's full_attention_heads.tsv and back.</summary>
internal static class PatternCommand
{
    public static Command Create()
    {
        var atlasOpt = new Option<string>("--atlas") { Description = "atlas.json", Required = true };
        var tsv = new Option<string>("--tsv") { Description = "DuoAttention full_attention_heads.tsv", Required = true };
        var export = new Command("export", "Write the atlas's duo-gate map as DuoAttention's TSV (one line per layer, one value per KV head)") { atlasOpt, tsv };
        export.SetAction(r => CliRun.Guard(() =>
        {
            var atlas = HeadAtlas.Load(r.GetValue(atlasOpt)!);
            DuoPattern.Write(r.GetValue(tsv)!, DuoPattern.FromAtlas(atlas));
            Console.WriteLine($"wrote {r.GetValue(tsv)} ({atlas.Layers} layers x {atlas.KvHeads} KV heads)");
            return 0;
        }));
        var atlasIn = new Option<string>("--atlas") { Description = "atlas.json to update (its duo-gate map is replaced)", Required = true };
        var tsvIn = new Option<string>("--tsv") { Description = "DuoAttention full_attention_heads.tsv", Required = true };
        var import = new Command("import", "Read DuoAttention's TSV into the atlas's duo-gate map") { atlasIn, tsvIn };
        import.SetAction(r => CliRun.Guard(() =>
        {
            var path = r.GetValue(atlasIn)!;
            var atlas = HeadAtlas.Load(path);
            DuoPattern.IntoAtlas(atlas, DuoPattern.Read(r.GetValue(tsvIn)!), r.GetValue(tsvIn)!);
            atlas.Save(path);
            Console.WriteLine($"imported {r.GetValue(tsvIn)} into {path}");
            return 0;
        }));
        return new Command("pattern", "Exchange DuoAttention head patterns (full_attention_heads.tsv)") { export, import };
    }
}
