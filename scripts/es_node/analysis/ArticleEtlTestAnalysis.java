/*
 * The analysis components of Elasticsearch's analysis-common module that the article-etl index
 * template uses, for the test node only.
 *
 * Why this exists: the integration-test distribution of Elasticsearch on Maven Central
 * (org.elasticsearch.distribution.integ-test-zip) ships the server with four modules only
 * (apm, transport-netty4, x-pack-core, x-pack-security). The analysis-common module, which
 * registers the "english" analyzer and the "asciifolding" token filter, is not
 * in it and is not published on Maven Central on its own. The production template
 * (mappings/index-template.json) needs exactly these two, so rather than weakening the template,
 * this plugin registers them under the same names with the same Lucene classes the module uses
 * (org.apache.lucene.analysis.en.EnglishAnalyzer and ASCIIFoldingFilter, both in
 * lucene-analysis-common, which the server ships). Production clusters (the official
 * distribution, the compose stack) have the real module and never load this.
 */
package org.articleetl.testnode;

import java.util.List;
import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.PreBuiltAnalyzerProviderFactory;
import org.elasticsearch.index.analysis.PreConfiguredTokenFilter;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.indices.analysis.PreBuiltCacheFactory.CachingStrategy;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public final class ArticleEtlTestAnalysis extends Plugin implements AnalysisPlugin {

    /** "type": "english" in index settings, with stopwords / stem_exclusion as the module reads them. */
    static final class EnglishProvider extends AbstractIndexAnalyzerProvider<EnglishAnalyzer> {
        private final EnglishAnalyzer analyzer;

        EnglishProvider(org.elasticsearch.env.Environment env, String name,
                        org.elasticsearch.common.settings.Settings settings) {
            super(name);
            analyzer = new EnglishAnalyzer(
                Analysis.parseStopWords(env, settings, EnglishAnalyzer.getDefaultStopSet()),
                Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET));
        }

        @Override
        public EnglishAnalyzer get() {
            return analyzer;
        }
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("english", (indexSettings, env, name, settings) -> new EnglishProvider(env, name, settings));
    }

    @Override
    public List<PreBuiltAnalyzerProviderFactory> getPreBuiltAnalyzerProviderFactories() {
        return List.of(new PreBuiltAnalyzerProviderFactory("english", CachingStrategy.LUCENE, EnglishAnalyzer::new));
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        // true: usable in normalizers (the template's "sortable" keyword normalizer).
        // ("lowercase" is the server's own: only asciifolding is missing.)
        return List.of(PreConfiguredTokenFilter.singleton("asciifolding", true, ASCIIFoldingFilter::new));
    }
}
