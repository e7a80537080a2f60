module squall_spi_top (
    input  wire clk,
    input  wire rst,
    input  wire sclk,
    input  wire cs_n,
    input  wire mosi,
    output wire miso,
    output reg  ready,              // the step's h and c can be read
    output wire bad_layer
);
    wire rx_valid, rx_first, txn_end;
    wire [15:0] rx_data;
    reg tx_we;
    reg [@AB@-1:0] tx_addr;
    reg [31:0] tx_data;
    reg writing;                    // inside a write transaction: data words go to the cell
    wire is_cmd = rx_valid && rx_first;
    wire write_cmd = is_cmd && !rx_data[15];

    squall_spi_slave spi (
        .clk(clk), .rst(rst), .sclk(sclk), .cs_n(cs_n), .mosi(mosi), .miso(miso),
        .rx_valid(rx_valid), .rx_data(rx_data), .rx_first(rx_first), .txn_end(txn_end),
        .tx_we(tx_we), .tx_addr(tx_addr), .tx_data(tx_data));

    wire out_valid, done, busy, x_ready;
    wire [@HB@-1:0] out_idx;
    wire signed [@DW@-1:0] out_h;
    wire signed [@CW@-1:0] out_c;
    squall_lstm_cell u_cell (
        .clk(clk), .rst(rst), .start(write_cmd), .layer(rx_data[@LB@-1:0]),
        .clear(write_cmd && rx_data[14]),
        .x_valid(rx_valid && !rx_first && writing), .x_data(rx_data[@DW@-1:0]),
        .x_ready(x_ready), .st_we(1'b0), .st_idx(@HB@'d0), .st_h(@DW@'sd0), .st_c(@CW@'sd0),
        .out_valid(out_valid), .out_idx(out_idx), .out_h(out_h), .out_c(out_c),
        .done(done), .busy(busy), .bad_layer(bad_layer));

    always @(posedge clk) begin
        tx_we <= 1'b0;
        if (rst) begin
            ready <= 1'b0;
            writing <= 1'b0;
        end else begin
            if (is_cmd) begin
                writing <= write_cmd;
                if (write_cmd) ready <= 1'b0;
            end
            if (txn_end) writing <= 1'b0;
            if (out_valid) begin
                tx_we <= 1'b1;
                tx_addr <= out_idx;
                tx_data <= {{(16-@CW@){out_c[@CW@-1]}}, out_c, {(16-@DW@){out_h[@DW@-1]}}, out_h};
            end
            if (done) ready <= 1'b1;
        end
    end
endmodule
